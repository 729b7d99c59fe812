// The colour range, reverse and filters in the URL hash (static/js/url-state.js).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const urlState = require("../../static/js/url-state.js");

const VIEW = { lat: 43.7, lon: -1.05, zoom: 14 };

test("range, reverse and filters are parsed as numbers", () => {
  const state = urlState.parse("#dataset=asc&range=7.5&rev=1&vmin=-5&vmax=2.5&amin=5&cmin=0.7");
  assert.equal(state.range, 7.5);
  assert.equal(state.reversed, true);
  assert.deepEqual(state.filters, { vmin: -5, vmax: 2.5, amin: 5, cmin: 0.7 });
});

test("unset, empty or non-numeric filters are absent, not zero", () => {
  assert.equal(urlState.parse("#dataset=asc").filters, undefined);
  assert.deepEqual(urlState.parse("#dataset=asc&vmin=&vmax=abc&cmin=0").filters, { cmin: 0 });
  assert.equal(urlState.parse("#dataset=asc&vmax=Infinity").filters, undefined);
  assert.equal(urlState.parse("#dataset=asc&range=0").range, undefined);
  assert.equal(urlState.parse("#dataset=asc&range=-3").range, undefined);
  assert.equal(urlState.parse("#dataset=asc&rev=0").reversed, undefined);
});

test("format writes only the filters that are set, and round-trips", () => {
  const state = { dataset: "asc", view: VIEW, points: [4], range: 12, reversed: true,
                  filters: { vmin: -3.5, vmax: null, amin: undefined, cmin: 0.8 } };
  const hash = urlState.format(state);
  assert.equal(hash, "#dataset=asc&lat=43.70000&lon=-1.05000&z=14&points=4&range=12&rev=1&vmin=-3.5&cmin=0.8");
  const back = urlState.parse(hash);
  assert.deepEqual(back.filters, { vmin: -3.5, cmin: 0.8 });
  assert.equal(back.range, 12);
  assert.equal(back.reversed, true);
  assert.deepEqual(back.points, [4]);
});

test("a zero filter bound is kept (0 is a value, not 'unset')", () => {
  const hash = urlState.format({ dataset: "asc", points: [], filters: { vmin: 0, vmax: 0 } });
  assert.equal(hash, "#dataset=&vmin=0&vmax=0".replace("dataset=", "dataset=asc"));
  assert.deepEqual(urlState.parse(hash).filters, { vmin: 0, vmax: 0 });
});

test("colours not reversed and no range leave the hash as before", () => {
  assert.equal(urlState.format({ dataset: "asc", view: VIEW, points: [], reversed: false }),
    "#dataset=asc&lat=43.70000&lon=-1.05000&z=14");
});
