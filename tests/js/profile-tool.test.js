// The pure parts of static/js/profile-tool.js: the line sent, the band's pixel width, the plot's scales.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
require("../../static/js/series-chart.js");
const profile = require("../../static/js/profile-tool.js");

test("the line is GeoJSON lon, lat to 6 decimals without repeated vertices", () => {
  const line = profile.lineGeometry([{ lat: 43.7, lng: -1.06 }, { lat: 43.7, lng: -1.06 }, { lat: 43.7000004, lng: -1.0400001 }]);
  assert.deepEqual(line, { type: "LineString", coordinates: [[-1.06, 43.7], [-1.04, 43.7]] });
});

test("a pixel is 156 km at zoom 0 on the equator and halves at each zoom", () => {
  assert.ok(Math.abs(profile.metresPerPixel(0, 0) - 156543.03) < 0.01);
  assert.ok(Math.abs(profile.metresPerPixel(60, 15) - 156543.03 / 2 ** 15 / 2) < 1e-6);
});

test("the distance axis is in km over 2 km, in m below, and covers the line", () => {
  const points = [{ velocity: -3.2 }, { velocity: 4.1 }, { velocity: null }];
  const long = profile.profileScales(points, 5300);
  assert.equal(long.unit, "km");
  assert.ok(long.xTicks.low === 0 && long.xTicks.high >= 5.3);
  assert.ok(long.yTicks.low <= -3.2 && long.yTicks.high >= 4.1);
  const short = profile.profileScales(points, 800);
  assert.equal(short.unit, "m");
  assert.ok(short.xTicks.high >= 800);
});
