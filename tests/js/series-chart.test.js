// The scale helpers of static/js/series-chart.js: nice value ticks, year ticks, linear scales.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const chart = require("../../static/js/series-chart.js");

const { width, height, margin } = chart.size;
const close = (actual, expected) => assert.ok(Math.abs(actual - expected) < 1e-9, actual + " != " + expected);

test("nice ticks step by 1, 2 or 5 times a power of ten and cover the range", () => {
  assert.deepEqual(chart.niceTicks(-3.2, 7.9, 4).ticks, [-5, 0, 5, 10]);
  assert.deepEqual(chart.niceTicks(0, 10, 4).ticks, [0, 5, 10]); // a step of 2.5 is rounded up to 5
  assert.deepEqual(chart.niceTicks(0, 8, 4).ticks, [0, 2, 4, 6, 8]);
  assert.deepEqual(chart.niceTicks(-0.5, 0.5, 4).ticks, [-0.5, 0, 0.5]);
  assert.deepEqual(chart.niceTicks(-0.7, 0.1, 4).ticks, [-0.8, -0.6, -0.4, -0.2, 0, 0.2]);
  assert.deepEqual(chart.niceTicks(-42, 17, 4).ticks, [-60, -40, -20, 0, 20]);
  assert.deepEqual(chart.niceTicks(120, 180, 4).ticks, [120, 140, 160, 180]);
});

test("the axis is widened to the outer ticks and values carry no float noise", () => {
  const axis = chart.niceTicks(0.12, 0.91, 4);
  assert.equal(axis.step, 0.2);
  assert.equal(axis.decimals, 1);
  assert.deepEqual(axis.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(axis.low, 0);
  assert.equal(axis.high, 1);
  const fine = chart.niceTicks(0.1, 0.4, 3);
  assert.deepEqual(fine.ticks, [0.1, 0.2, 0.3, 0.4]); // not 0.30000000000000004
  assert.equal(fine.decimals, 1);
  const negative = chart.niceTicks(-1, -0.2, 2).ticks;
  assert.deepEqual(negative, [-1, -0.5, 0]);
  assert.ok(Object.is(negative[2], 0), "the top tick is 0, not -0"); // -0 would print as "-0"
});

test("a degenerate range still gives ticks", () => {
  const axis = chart.niceTicks(3, 3, 4);
  assert.ok(axis.ticks.length >= 1);
  assert.ok(axis.low <= 3 && axis.high >= 3);
});

test("year ticks are 1 January of every year inside the dates", () => {
  const first = Date.parse("2019-03-05T00:00:00Z"), last = Date.parse("2022-01-01T00:00:00Z");
  assert.deepEqual(chart.yearTicks(first, last).map((t) => new Date(t).toISOString().slice(0, 10)),
    ["2020-01-01", "2021-01-01", "2022-01-01"]);
  assert.deepEqual(chart.yearTicks(Date.parse("2020-02-01"), Date.parse("2020-11-30")), []);
});

test("a linear scale maps the domain's ends onto the range's, inverted ranges too", () => {
  const y = chart.linearScale([-10, 10], [200, 0]);
  assert.equal(y(-10), 200);
  assert.equal(y(10), 0);
  assert.equal(y(0), 100);
  assert.equal(y(5), 50);
});

test("extent widens values by the std, ignores gaps and is at least 1 mm tall", () => {
  const times = chart.toTimes(["2020-01-01", "2020-07-01", "2021-01-01"]);
  assert.equal(times[0], Date.UTC(2020, 0, 1));
  const box = chart.extent([{ times: times, values: [1, null, -4], std: 0.5 }]);
  assert.deepEqual(box, { first: times[0], last: times[2], low: -4.5, high: 1.5 });
  const flat = chart.extent([{ times: times, values: [2, 2, 2], std: null }]);
  assert.equal(flat.low, 1.5);
  assert.equal(flat.high, 2.5);
  const empty = chart.extent([{ times: times, values: [null, null, null] }]);
  assert.equal(empty.low, -1);
  assert.equal(empty.high, 1);
});

test("the chart's scales put the first date and the top tick at the plot's corners", () => {
  const dates = ["2018-06-01", "2019-06-01", "2020-06-01"];
  const scales = chart.scales([{ times: chart.toTimes(dates), values: [-3.2, 0.4, 7.9], std: null }]);
  assert.deepEqual(scales.valueTicks, [-5, 0, 5, 10]);
  assert.equal(scales.low, -5);
  assert.equal(scales.high, 10);
  close(scales.x(Date.parse("2018-06-01T00:00:00Z")), margin.left);
  close(scales.x(Date.parse("2020-06-01T00:00:00Z")), width - margin.right);
  close(scales.x(Date.parse("2019-06-01T00:00:00Z")), margin.left + (width - margin.left - margin.right) * 365 / 731);
  close(scales.y(10), margin.top);
  close(scales.y(-5), height - margin.bottom);
  close(scales.y(0), margin.top + (height - margin.top - margin.bottom) * 10 / 15);
  assert.equal(scales.yearTicks.length, 2);
  // Every value plotted is inside the plot area.
  for (const value of [-3.2, 0.4, 7.9]) {
    assert.ok(scales.y(value) <= height - margin.bottom && scales.y(value) >= margin.top);
  }
});
