// The layer picker of static/js/layer-picker.js: groups by area, level and geometry; full names.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const picker = require("../../static/js/layer-picker.js");

const DAX_ASC = { slug: "a", name: "Dax L2a ascending track 132, 2021–2023", area: "Dax", level: "l2a", pass_direction: "ascending", component: "los", status: "published", sees_points: true };
const DAX_UP = { slug: "u", name: "Dax L3 up-down 2021–2023", area: "Dax", level: "l3", pass_direction: "", component: "up-down", status: "draft", sees_points: false };
const DAX_DESC_L2B = { slug: "d", name: "Dax L2b descending track 81, 2021–2023", area: "Dax", level: "l2b", pass_direction: "descending", component: "los", status: "published", sees_points: true };
const USTICA = { slug: "x", name: "L2b ascending track 117, burst 0227 IW2, 2020–2024", area: "Ustica", level: "l2b", pass_direction: "ascending", component: "los", status: "published", sees_points: true };
const NOWHERE = { slug: "n", name: "L2a ascending, 2019 (tre)", area: "", level: "l2a", pass_direction: "ascending", component: "los", status: "published", sees_points: true };

test("groups come by area (none last), then level and geometry", () => {
  const groups = picker.groups([NOWHERE, DAX_UP, USTICA, DAX_DESC_L2B, DAX_ASC]);
  assert.deepEqual(groups.map((group) => group.label), [
    "Dax · L2a LOS ascending", "Dax · L2b LOS descending", "Dax · L3 up-down",
    "Ustica · L2b LOS ascending", "Other areas · L2a LOS ascending",
  ]);
  assert.deepEqual(groups.map((group) => group.datasets.map((d) => d.slug)), [["a"], ["d"], ["u"], ["x"], ["n"]]);
});

test("two datasets of one area, level and geometry share a group, by name", () => {
  const later = Object.assign({}, DAX_ASC, { slug: "b", name: "Dax L2a ascending track 132, 2024–2025" });
  const groups = picker.groups([later, DAX_ASC]);
  assert.equal(groups.length, 1);
  assert.deepEqual(groups[0].datasets.map((d) => d.slug), ["a", "b"]);
});

test("an option shows the whole name with its draft and cells-only marks", () => {
  assert.equal(picker.optionText(DAX_UP), "Dax L3 up-down 2021–2023 (draft) (cells only)");
  assert.equal(picker.optionText(USTICA), USTICA.name);
});

test("without an area on any dataset the groups name only level and geometry", () => {
  const bare = [DAX_ASC, DAX_UP].map((dataset) => Object.assign({}, dataset, { area: "" }));
  assert.deepEqual(picker.groups(bare).map((group) => group.label), ["L2a LOS ascending", "L3 up-down"]);
});
