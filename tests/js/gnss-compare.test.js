// The rows static/js/gnss-compare.js shows for a comparison answer of the API.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { formatComparison } = require("../../static/js/gnss-compare.js");

const answer = {
  station: { code: "DAX1", reference_frame: "ETRF2000" },
  quantity: { short: "up-down" },
  radius_m: 200,
  station_velocity: -2.0,
  station_velocity_std: 0.4,
  points: { count: 6, mean_velocity: -2.17, velocity_spread: 0.82, mean_standard_error: 0.33 },
  difference: -0.17,
  difference_std: 0.52,
};

test("station, points, spread and difference with their stds and signs", () => {
  assert.deepEqual(formatComparison(answer), [
    ["Station DAX1 (ETRF2000), up-down", "-2.00 ± 0.40 mm/yr"],
    ["6 points within 200 m, mean", "-2.17 ± 0.33 mm/yr"],
    ["Spread of the points' velocities", "0.82 mm/yr"],
    ["Points minus station", "-0.17 ± 0.52 mm/yr"],
  ]);
});

test("no points, no frame and no LOS direction are said, not shown as numbers", () => {
  const empty = {
    ...answer,
    station: { code: "X", reference_frame: "" },
    station_velocity: null,
    station_velocity_std: null,
    points: { count: 0, mean_velocity: null, velocity_spread: null, mean_standard_error: null },
    difference: null,
    difference_std: null,
  };
  const rows = formatComparison(empty);
  assert.equal(rows[0][0], "Station X (frame not given), up-down");
  assert.match(rows[0][1], /no LOS direction/);
  assert.equal(rows[1][1], "no points");
  assert.equal(rows[3][1], "n/a mm/yr");
});

test("a positive difference carries its plus sign", () => {
  assert.equal(formatComparison({ ...answer, difference: 1.5, difference_std: null })[3][1], "+1.50 mm/yr");
});
