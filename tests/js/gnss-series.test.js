// The two chart series static/js/gnss-compare.js draws for a .../series/ answer of the API.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { seriesForChart } = require("../../static/js/gnss-compare.js");

const answer = {
  station: { code: "DAX1" },
  quantity: { short: "LOS ascending" },
  radius_m: 200,
  dates: ["2022-01-01", "2022-01-07", "2022-01-13"],
  points_mean: [0.5, -1.0, null],
  station_series: [0.5, null, -2.25],
  points_count: 12,
  common_count: 1,
  difference_rmse_mm: 1.26,
};

test("the points' mean first, then the station with the RMSE in its legend note", () => {
  const [mean, station] = seriesForChart(answer);
  assert.equal(mean.label, "mean of 12 points");
  assert.equal(mean.note, "within 200 m");
  assert.deepEqual(mean.values, [0.5, -1.0, null]);
  assert.equal(station.label, "GNSS DAX1 (LOS ascending)");
  assert.equal(station.note, "RMSE 1.3 mm over 1 date");
  assert.deepEqual(station.values, [0.5, null, -2.25]);
  for (const item of [mean, station]) {
    assert.deepEqual(item.dates, answer.dates);
    assert.equal(item.fitted, null);
    assert.equal(item.std, null);
  }
});

test("no common date says so instead of an RMSE", () => {
  const [, station] = seriesForChart({ ...answer, difference_rmse_mm: null, common_count: 0 });
  assert.equal(station.note, "no date in common");
});
