// The pure parts of static/js/analysis-controls.js: the query every request carries, the
// legend's words, the slider's dates.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const analysis = require("../../static/js/analysis-controls.js");

const ALL = { start: "2022-01-01", end: "2022-02-01", reference: 5, changes: 2 };

test("tiles get the period, the reference and changes; a point only what it takes", () => {
  assert.equal(analysis.query(ALL), "?start=2022-01-01&end=2022-02-01&reference=5&changes=2");
  assert.equal(analysis.query(ALL, ["start", "end", "reference"]), "?start=2022-01-01&end=2022-02-01&reference=5");
  assert.equal(analysis.query({}), "");
  assert.equal(analysis.query(null), "");
});

test("half a period, or changes without one, is not sent", () => {
  assert.equal(analysis.query({ start: "2022-01-01", reference: 5, changes: 2 }), "?reference=5");
  assert.equal(analysis.query({ end: "2022-01-01" }), "");
});

test("the legend names the period and the reference, or the changes layer", () => {
  assert.deepEqual(analysis.words({ start: "2022-01-01", end: "2022-02-01", reference: 5 }, "LOS velocity (mm/yr)", "ASC1"),
    { title: null, note: "velocity 2022-01-01 – 2022-02-01 · relative to point ASC1" });
  assert.equal(analysis.words({ reference: 5 }, "x").note, "relative to point 5"); // pid not known yet
  const changes = analysis.words(ALL, "x", "ASC1");
  assert.equal(changes.title, "period − whole-window velocity (mm/yr)");
  assert.ok(changes.note.includes("2022-01-01 – 2022-02-01") && changes.note.includes("≥ 2 σ"));
  assert.deepEqual(analysis.words({}, "x"), { title: null, note: "" });
});

test("evenly spaced dates stand in for a layer's acquisitions, and the nearest is found", () => {
  assert.deepEqual(analysis.spacedDates("2022-01-01", "2022-01-13", 3), ["2022-01-01", "2022-01-07", "2022-01-13"]);
  assert.equal(analysis.nearestIndex(["2022-01-01", "2022-01-07", "2022-01-13"], "2022-01-09"), 1);
  assert.equal(analysis.nearestIndex(["2022-01-01", "2022-01-07", "2022-01-13"], "2030-01-01"), 2);
});
