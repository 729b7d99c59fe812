// The layer's words (legend sign note, panel velocity words), the tile filters, the nearby-point
// search and the chart's time ticks and per-date band: static/js/legend.js, point-panel.js, series-chart.js.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fakeDom = require("./fake-dom.js");

fakeDom.install();
const scale = require("../../static/js/legend.js");
const panel = require("../../static/js/point-panel.js");
const chart = require("../../static/js/series-chart.js");

// As groundmotion/quantities.py gives them.
const UP = { component: "up-down", short: "up-down", positive: "up", negative: "down",
             velocity_label: "Vertical velocity (mm/yr)", displacement_label: "Vertical displacement, mm (+ up)" };
const EAST = { component: "east-west", short: "east-west", positive: "east", negative: "west",
               velocity_label: "East-west velocity (mm/yr)", displacement_label: "East-west displacement, mm (+ east)" };
const ASC = { component: "los", short: "LOS ascending", positive: "towards the satellite", negative: "away from the satellite",
              velocity_label: "LOS ascending velocity (mm/yr)", displacement_label: "LOS displacement, mm (+ towards satellite)" };

test("the sign note of an L3 layer says + up or + east, never the satellite", () => {
  for (const [quantity, word] of [[UP, "+ up"], [EAST, "+ east"]]) {
    const text = scale.signNote(quantity, false).join("");
    assert.ok(text.includes(word), text);
    assert.ok(!/satellite|line-of-sight|LOS/.test(text), text);
  }
  assert.ok(scale.signNote(UP, false).join("").includes("Red is down, blue up"));
  assert.ok(scale.signNote(UP, true).join("").includes("blue is down, red up"));
});

test("the sign note of a LOS layer names its pass and the satellite", () => {
  const parts = scale.signNote(ASC, false);
  assert.equal(parts[1], "towards the satellite");
  assert.ok(parts[0].includes("LOS ascending"));
});

test("filters: bounds are inclusive, unset bounds do not filter, missing values fail a bound", () => {
  const at = (velocity, coherence) => ({ velocity: velocity, coherence: coherence });
  assert.equal(scale.passes(at(-3, 0.5), {}), true);
  assert.equal(scale.passes(at(-3, 0.5), null), true);
  assert.equal(scale.passes(at(-2, 0.5), { vmin: -2, vmax: 3 }), true);
  assert.equal(scale.passes(at(3, 0.5), { vmin: -2, vmax: 3 }), true);
  assert.equal(scale.passes(at(-2.1, 0.5), { vmin: -2, vmax: 3 }), false);
  assert.equal(scale.passes(at(3.1, 0.5), { vmax: 3 }), false);
  assert.equal(scale.passes(at(-5, 0.5), { amin: 5 }), true);
  assert.equal(scale.passes(at(4.9, 0.5), { amin: 5 }), false);
  assert.equal(scale.passes(at(1, 0.69), { cmin: 0.7 }), false);
  assert.equal(scale.passes(at(1, 0.7), { cmin: 0.7 }), true);
  assert.equal(scale.passes(at(null, 0.9), { vmin: -1 }), false);
  assert.equal(scale.passes(at(1, undefined), { cmin: 0.1 }), false);
  assert.equal(scale.passes(at(null, undefined), { vmin: null, cmin: undefined }), true);
  // A cell carries its mean velocity and coherence: it is filtered by them, like a point.
  assert.equal(scale.passes({ count: 12, velocity: -6, coherence: 0.8 }, { amin: scale.FAST_MOVERS }), true);
});

test("panel velocity words come from the quantity; acronyms keep their capitals", () => {
  assert.equal(panel.velocityWords(UP, true), "vertical velocity");
  assert.equal(panel.velocityWords(ASC, true), "LOS ascending velocity");
  assert.equal(panel.velocityWords(EAST), "East-west velocity");
  const item = panel.pointLinks("/api/", { id: 2, pid: "U1", velocity: -1.5 }, UP);
  assert.ok(item.textContent.startsWith("U1 vertical velocity -1.50 mm/yr"), item.textContent);
});

test("the nearby point: the nearest within 20 m, none beyond", () => {
  const old = { lon: -1.05, lat: 43.7 };
  const metre = 1 / 111320;
  const points = [
    { id: 1, pid: "A", lon: -1.05, lat: 43.7 + 15 * metre },
    { id: 2, pid: "B", lon: -1.05, lat: 43.7 + 6 * metre },
    { id: 3, pid: "C", lon: -1.05, lat: 43.7 + 25 * metre },
  ];
  const found = panel.nearest(old, points);
  assert.equal(found.point.pid, "B");
  assert.equal(Math.round(found.distance), 6);
  assert.equal(panel.nearest(old, [points[2]]), null);
  // East-west metres shrink with latitude.
  const east = { lon: -1.05 + 10 * metre / Math.cos(43.7 * Math.PI / 180), lat: 43.7 };
  assert.ok(Math.abs(panel.metresBetween(old, east) - 10) < 0.01);
  const box = panel.boxAround(old, 20).split(",").map(Number);
  assert.ok(box[0] < old.lon && old.lon < box[2] && box[1] < old.lat && old.lat < box[3]);
  assert.ok(Math.abs((box[3] - box[1]) / metre - 40) < 0.1);
});

test("time ticks: years over long series, months over short ones, at most 8", () => {
  const years = chart.timeTicks(Date.UTC(2020, 0, 7), Date.UTC(2024, 11, 20));
  assert.deepEqual(years.labels, ["2021", "2022", "2023", "2024"]);
  const months = chart.timeTicks(Date.UTC(2022, 0, 1), Date.UTC(2022, 5, 30));
  assert.deepEqual(months.labels, ["2022-01", "2022-02", "2022-03", "2022-04", "2022-05", "2022-06"]);
  const longer = chart.timeTicks(Date.UTC(2021, 2, 1), Date.UTC(2022, 9, 1));
  assert.ok(longer.labels.length <= 8 && longer.labels.length >= 4, longer.labels.join());
  longer.times.forEach((time) => assert.equal(new Date(time).getUTCDate(), 1));
});

test("a per-date std widens the extent at its own dates", () => {
  const item = { times: [0, 1, 2], values: [0, 1, 2], std: [0.5, null, 3] };
  const box = chart.extent([item]);
  assert.equal(box.low, -1); // 2 - 3
  assert.equal(box.high, 5);
});
