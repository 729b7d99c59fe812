// The URL hash state of static/js/url-state.js: parse, format and their round trip.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const urlState = require("../../static/js/url-state.js");

test("a full hash is parsed into dataset, view and points", () => {
  assert.deepEqual(urlState.parse("#dataset=asc&lat=43.71234&lon=-1.05&z=15&points=12,7"), {
    dataset: "asc", view: { lat: 43.71234, lon: -1.05, zoom: 15 }, points: [12, 7],
  });
});

test("an empty or missing hash has no dataset, view or points", () => {
  for (const hash of ["", "#", undefined, null, "#&&", "#dataset="]) {
    assert.deepEqual(urlState.parse(hash), { dataset: null, points: [] }, String(hash));
  }
});

test("format writes the centre to 5 decimals and leaves out an empty selection", () => {
  const hash = urlState.format({ dataset: "asc", view: { lat: 43.712345678, lon: -1.0500049, zoom: 14 }, points: [] });
  assert.equal(hash, "#dataset=asc&lat=43.71235&lon=-1.05000&z=14");
  assert.equal(urlState.format({ dataset: null, points: [3, 4] }), "#dataset=&points=3,4");
});

test("odd characters in the dataset survive the round trip", () => {
  const names = ["a&b=c", "dax l2b", "100%", "#frag", "é/ü?x=1", "a+b", "<img onerror=x>", "=", "&&"];
  for (const dataset of names) {
    const state = { dataset: dataset, view: { lat: -12.5, lon: 179.99999, zoom: 3 }, points: [1, 22, 333] };
    const hash = urlState.format(state);
    assert.equal(hash.split("&").length, 5, hash); // nothing in the name splits the hash
    assert.deepEqual(urlState.parse(hash), state, hash);
  }
});

test("the round trip keeps a view at zero and negative coordinates", () => {
  const state = { dataset: "x", view: { lat: 0, lon: -0.5, zoom: 0 }, points: [] };
  assert.deepEqual(urlState.parse(urlState.format(state)), state);
});

test("a malformed escape drops that part only, it does not throw", () => {
  const parsed = urlState.parse("#dataset=%E0%A4%A&lat=1&lon=2&z=3");
  assert.deepEqual(parsed, { dataset: null, view: { lat: 1, lon: 2, zoom: 3 }, points: [] });
  assert.equal(urlState.parse("#dataset=ok&%ZZ=1").dataset, "ok");
});

test("an incomplete or non-numeric view is ignored", () => {
  assert.equal(urlState.parse("#lat=1&lon=2").view, undefined);
  assert.equal(urlState.parse("#lat=north&lon=2&z=3").view, undefined);
  assert.equal(urlState.parse("#lat=1&lon=2&z=Infinity").view, undefined);
});

test("only positive whole point ids are kept", () => {
  assert.deepEqual(urlState.parse("#points=5,-1,0,abc,2.5,,7").points, [5, 7]);
});

test("parts with more than one '=' are not guessed at", () => {
  assert.equal(urlState.parse("#dataset=a=b").dataset, null);
});
