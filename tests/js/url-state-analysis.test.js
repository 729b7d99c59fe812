// The analysis in the URL hash (static/js/url-state.js): period, reference, changes.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const urlState = require("../../static/js/url-state.js");

test("period, reference and changes round-trip", () => {
  const state = { dataset: "asc", points: [], analysis: { start: "2022-01-01", end: "2022-06-30", reference: 77, changes: 2.5 } };
  const hash = urlState.format(state);
  assert.equal(hash, "#dataset=asc&start=2022-01-01&end=2022-06-30&reference=77&changes=2.5");
  assert.deepEqual(urlState.parse(hash), state);
});

test("no analysis leaves no key, and a bad part is dropped alone", () => {
  assert.equal(urlState.parse("#dataset=asc").analysis, undefined);
  assert.equal(urlState.format({ dataset: "asc", points: [], analysis: {} }), "#dataset=asc");
  assert.deepEqual(urlState.parse("#start=2022-01-01&reference=x&changes=-1").analysis, undefined); // half a period
  assert.deepEqual(urlState.parse("#start=2022-1-1&end=2022-02-01&reference=9").analysis, { reference: 9 });
  assert.deepEqual(urlState.parse("#reference=2.5&changes=3").analysis, { changes: 3 });
});
