// The pure parts of static/js/place-search.js and static/js/basemap.js.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const search = require("../../static/js/place-search.js");
const basemap = require("../../static/js/basemap.js");

test("point ids are one word with a digit; town names are not", () => {
  for (const pid of ["ASC000007", "1HBqP9xyHE", "42"]) assert.ok(search.looksLikePid(pid), pid);
  for (const name of ["Dax", "Saint-Étienne", "St 2 Etienne", ""]) assert.ok(!search.looksLikePid(name), name);
});

test("bigger towns get a wider view", () => {
  assert.ok(search.zoomFor(2e6) < search.zoomFor(2e5));
  assert.ok(search.zoomFor(2e5) < search.zoomFor(2e4));
  assert.equal(search.zoomFor(undefined), search.zoomFor(0));
});

test("geocoder answers are read as places, bounding box [south, north, west, east]", () => {
  const places = search.fromGeocoder([
    { display_name: "Dax, Landes, France", lat: "43.71", lon: "-1.05", boundingbox: ["43.68", "43.74", "-1.10", "-1.01"] },
    { display_name: "Nowhere", lat: "x", lon: "1" },
  ]);
  assert.equal(places.length, 1);
  assert.equal(places[0].name, "Dax");
  assert.deepEqual(places[0].bounds, [[43.68, -1.10], [43.74, -1.01]]);
  assert.deepEqual(search.fromGeocoder({ error: "quota" }), []);
});

test("merge keeps the gazetteer first and drops a geocoder duplicate of a listed town", () => {
  const local = [{ name: "Dax", lat: 43.7103, lon: -1.0537 }];
  const remote = [{ name: "DAX", lat: 43.71, lon: -1.05 }, { name: "Dax", lat: 48.1, lon: 2.3 }];
  const merged = search.merge(local, remote);
  assert.deepEqual(merged.map((p) => p.lat), [43.7103, 48.1]);
  const many = Array.from({ length: 12 }, (_, i) => ({ name: "T" + i, lat: i, lon: i }));
  const full = search.merge(many, remote.slice(1));
  assert.equal(full.length, 10);
  assert.deepEqual(full.slice(0, 9).map((p) => p.name), many.slice(0, 9).map((p) => p.name));
  assert.equal(full[9].lat, 48.1); // room kept for the geocoder's answer, after the gazetteer's
});

test("labels need a bigger town the further out the map is", () => {
  for (let zoom = 3; zoom < 13; zoom += 1) {
    assert.ok(basemap.minPopulation(zoom) >= basemap.minPopulation(zoom + 1), String(zoom));
  }
  assert.equal(basemap.minPopulation(2), Infinity);
  assert.equal(basemap.minPopulation(18), 0);
});

test("cell keys cover a bounds, south-west corners, clamped to the world", () => {
  const bounds = (s, w, n, e) => ({ getSouth: () => s, getWest: () => w, getNorth: () => n, getEast: () => e });
  assert.deepEqual(basemap.cellKeys(bounds(43.2, -1.5, 43.9, -0.5), 1), ["43_-2", "43_-1"]);
  assert.deepEqual(basemap.cellKeys(bounds(38.6, 13.1, 38.8, 13.3), 10), ["30_10"]);
  assert.equal(basemap.cellKeys(bounds(-95, -200, 95, 200), 10).length, 18 * 36);
});

test("a ring crossing the antimeridian is unwrapped, others are left alone", () => {
  const fiji = { type: "Polygon", coordinates: [[[179, -16], [-179.5, -16], [-179.5, -17], [179, -17], [179, -16]]] };
  basemap.unwrap(fiji);
  assert.deepEqual(fiji.coordinates[0].map((p) => p[0]), [179, 180.5, 180.5, 179, 179]);
  const france = { type: "MultiPolygon", coordinates: [[[[-1, 43], [2, 43], [2, 45], [-1, 43]]]] };
  basemap.unwrap(france);
  assert.deepEqual(france.coordinates[0][0], [[-1, 43], [2, 43], [2, 45], [-1, 43]]);
});
