// The pure helpers of static/js/download-dialog.js: sizes, typed bboxes, WKT rings, job lines.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const dialog = require("../../static/js/download-dialog.js");

test("sizes are written in decimal units with one decimal below ten", () => {
  assert.equal(dialog.formatBytes(0), "0 B");
  assert.equal(dialog.formatBytes(999), "999 B");
  assert.equal(dialog.formatBytes(1500), "1.5 kB");
  assert.equal(dialog.formatBytes(9612345), "9.6 MB");
  assert.equal(dialog.formatBytes(19_000_000), "19 MB");
  assert.equal(dialog.formatBytes(3.2e12), "3.2 TB");
  assert.equal(dialog.formatBytes(null), "—");
});

test("a typed bbox becomes Leaflet bounds, south-west first", () => {
  assert.deepEqual(dialog.parseBbox("-1.1, 43.6,-1.0,43.7"), [[43.6, -1.1], [43.7, -1.0]]);
});

test("a bbox that is not four ordered numbers in range is no bounds", () => {
  for (const text of ["", "1,2,3", "1,2,3,4,5", "a,b,c,d", "-1,44,-2,43", "0,-95,1,0", "1,2,,4", null]) {
    assert.equal(dialog.parseBbox(text), null, String(text));
  }
});

test("a drawn ring becomes a closed WKT polygon, longitude first", () => {
  const ring = [{ lat: 43.7, lng: -1.1 }, { lat: 43.7, lng: -1.0 }, { lat: 43.8, lng: -1.05 }];
  assert.equal(dialog.ringWkt(ring),
    "POLYGON((-1.100000 43.700000, -1.000000 43.700000, -1.050000 43.800000, -1.100000 43.700000))");
});

test("the job line gives percent and the server's message, and where a failed job stopped", () => {
  assert.equal(dialog.progressText({ state: "running", progress: 0.2, message: "written 500 of 2,500 points" }),
    "20 % · written 500 of 2,500 points");
  assert.equal(dialog.progressText({ state: "queued", progress: 0 }), "Waiting for a worker…");
  assert.equal(dialog.progressText({ state: "failed", progress: 0.4, message: "Export failed: disk full" }),
    "Stopped at 40 %");
  assert.equal(dialog.progressText({ state: "succeeded", progress: 1, message: "", points_written: 2500 }),
    "100 % · written 2,500 points");
});

test("a polygon from the viewer's area link reads back as the ring it was written from", () => {
  const ring = [{ lat: 43.70, lng: -1.06 }, { lat: 43.70, lng: -1.04 }, { lat: 43.72, lng: -1.05 }];
  assert.deepEqual(dialog.parsePolygon(dialog.ringWkt(ring)), [[43.7, -1.06], [43.7, -1.04], [43.72, -1.05]]);
  for (const text of ["", "POLYGON((1 2, 3 4))", "POLYGON((a b, 1 2, 3 4, a b))", "MULTIPOLYGON(((1 2, 3 4, 5 6, 1 2)))"]) {
    assert.equal(dialog.parsePolygon(text), null, text);
  }
});
