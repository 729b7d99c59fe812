// The pure parts of static/js/chart-tools.js: the model request, the chart's series from a
// model body (detrend, replicas, zoom) and a drag turned into dates.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
require("../../static/js/series-chart.js");
const tools = require("../../static/js/chart-tools.js");

const NONE = { terms: [], step: null, detrend: false, replicas: false, zoom: null };

test("the model query names the terms, the step, the window and the reference", () => {
  assert.equal(tools.modelQuery(NONE, {}), "?");
  const asked = Object.assign({}, NONE, { terms: ["acceleration", "seasonal"], step: "2022-03-01" });
  assert.equal(tools.modelQuery(asked, { reference: 7 }), "?terms=acceleration%2Cseasonal&step=2022-03-01&reference=7");
});

test("the window is the zoom, else the period", () => {
  const period = { start: "2022-01-01", end: "2022-06-01" };
  assert.equal(tools.modelQuery(NONE, period), "?start=2022-01-01&end=2022-06-01");
  const zoomed = Object.assign({}, NONE, { zoom: { start: "2022-02-01", end: "2022-03-01" } });
  assert.equal(tools.modelQuery(zoomed, period), "?start=2022-02-01&end=2022-03-01");
});

const BODY = {
  dates: ["2022-01-01", "2022-01-07", "2022-01-13", "2022-01-19"],
  displacements: [0, 2, null, 6],
  detrended: [0, 0.5, null, 1.5],
  fitted: [0.1, 1.9, 4.0, 6.1],
  residual_std_mm: 0.2,
  replica_mm: 27.73,
};

test("the chart shows the displacements and the server's fit as they come", () => {
  const series = tools.chartSeries(BODY, NONE, "P1", "Asc");
  assert.equal(series.length, 1);
  assert.deepEqual(series[0].values, BODY.displacements);
  assert.deepEqual(series[0].fitted, BODY.fitted);
  assert.equal(series[0].std, 0.2);
});

test("detrended, the fit loses the same trend as the points; no trend is computed here", () => {
  const [item] = tools.chartSeries(BODY, Object.assign({}, NONE, { detrend: true }), "P1");
  assert.deepEqual(item.values, BODY.detrended);
  // fitted − (displacement − detrended): 0.1 − 0, 1.9 − 1.5, unknown where the point is missing, 6.1 − 4.5
  assert.deepEqual(item.fitted.map((v) => (v === null ? null : Number(v.toFixed(6)))), [0.1, 0.4, null, 1.6]);
});

test("replicas are the series shifted by ± replica_mm, faint and without a fit", () => {
  const series = tools.chartSeries(BODY, Object.assign({}, NONE, { replicas: true }), "P1");
  assert.equal(series.length, 3);
  const round = (values) => values.map((v) => (v === null ? null : Number(v.toFixed(2))));
  assert.deepEqual(round(series[1].values), [27.73, 29.73, null, 33.73]);
  assert.deepEqual(round(series[2].values), [-27.73, -25.73, null, -21.73]);
  assert.ok(series[1].faint && series[2].faint && series[1].fitted === null);
});

test("a zoom keeps the dates inside it", () => {
  const zoom = { start: "2022-01-07", end: "2022-01-19" };
  const [item] = tools.chartSeries(BODY, Object.assign({}, NONE, { zoom: zoom }), "P1");
  assert.deepEqual(item.dates, ["2022-01-07", "2022-01-13", "2022-01-19"]);
  assert.deepEqual(item.values, [2, null, 6]);
});

test("a drag becomes the dates inside it, or nothing under three dates", () => {
  const size = { width: 420, margin: { left: 46, right: 10 } };
  const first = Date.UTC(2022, 0, 1), last = Date.UTC(2022, 0, 19);
  const scale = { first: first, last: last };
  const px = (date) => 46 + ((Date.parse(date) - first) / (last - first)) * (420 - 56);
  assert.deepEqual(tools.zoomWindow(scale, size, px("2022-01-05"), px("2022-01-20"), BODY.dates),
    { start: "2022-01-07", end: "2022-01-19" });
  assert.deepEqual(tools.zoomWindow(scale, size, px("2022-01-19"), 0, BODY.dates), { start: "2022-01-01", end: "2022-01-19" });
  assert.equal(tools.zoomWindow(scale, size, px("2022-01-06"), px("2022-01-14"), BODY.dates), null);
});
