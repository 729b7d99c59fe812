// The velocity colour scale of static/js/legend.js against its stops.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const scale = require("../../static/js/legend.js");

const rgb = (triple) => "rgb(" + triple.join(",") + ")";

test("each stop position gives the stop's colour", () => {
  for (const [position, colour] of scale.STOPS) assert.equal(scale.colourAt(position), rgb(colour));
});

test("the ends are red (away, -1) and blue (towards, +1); the middle is pale yellow", () => {
  assert.equal(scale.colourAt(-1), "rgb(165,0,38)");
  assert.equal(scale.colourAt(0), "rgb(255,255,191)");
  assert.equal(scale.colourAt(1), "rgb(49,54,149)");
});

test("between stops the channels are mixed linearly and rounded", () => {
  // Halfway from [255,255,191] to [116,173,209]: 185.5 -> 186, 214, 200.
  assert.equal(scale.colourAt(0.25), "rgb(186,214,200)");
  // A quarter of the way from [165,0,38] to [244,109,67]: 184.75, 27.25, 45.25.
  assert.equal(scale.colourAt(-0.875), "rgb(185,27,45)");
});

test("positions beyond ±1 are clamped", () => {
  assert.equal(scale.colourAt(-7), scale.colourAt(-1));
  assert.equal(scale.colourAt(3.5), scale.colourAt(1));
});

test("velocities are scaled by the legend's range (mm/yr)", () => {
  assert.equal(scale.colourFor(5, 10, false), "rgb(116,173,209)"); // +range/2: the +0.5 stop
  assert.equal(scale.colourFor(-5, 10, false), "rgb(244,109,67)");
  assert.equal(scale.colourFor(-2.5, 5, false), scale.colourAt(-0.5));
  assert.equal(scale.colourFor(0, 10, false), "rgb(255,255,191)");
  assert.equal(scale.colourFor(40, 10, false), "rgb(49,54,149)"); // beyond the range: the end colour
  assert.equal(scale.colourFor(-40, 20, false), "rgb(165,0,38)");
});

test("reversed colours swap the sides", () => {
  assert.equal(scale.colourFor(10, 10, true), "rgb(165,0,38)");
  assert.equal(scale.colourFor(-10, 10, true), "rgb(49,54,149)");
  assert.equal(scale.colourFor(3, 10, true), scale.colourFor(-3, 10, false));
});

test("a missing velocity is grey, not a colour of the scale", () => {
  for (const value of [null, undefined, NaN, "n/a"]) assert.equal(scale.colourFor(value, 10, false), "#888");
  assert.equal(scale.NO_VALUE, "#888");
});

test("the legend bar runs from -range to +range with the scale's colours", () => {
  const bar = scale.barColours(false);
  assert.equal(bar.length, 11);
  assert.equal(bar[0], "rgb(165,0,38)");
  assert.equal(bar[5], "rgb(255,255,191)");
  assert.equal(bar[10], "rgb(49,54,149)");
  // The bar's i-th colour is the colour of velocity (i/5 - 1) * range.
  bar.forEach((colour, i) => assert.equal(colour, scale.colourFor((i / 5 - 1) * 10, 10, false)));
  assert.deepEqual(scale.barColours(true), bar.slice().reverse());
});

test("the browser global is the same scale", () => {
  assert.equal(globalThis.GroundMotion.colourScale, scale);
  assert.equal(typeof globalThis.GroundMotion.Legend, "function");
});
