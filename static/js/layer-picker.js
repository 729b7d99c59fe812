/* The layer picker: every dataset the user may see, grouped by area, then level and geometry
   ("Dax · L2b LOS ascending", "Dax · L3 up-down"), each under its full name (the list wraps
   long names rather than cutting them), with its draft and cells-only marks. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var LEVELS = { l2a: "L2a", l2b: "L2b", l3: "L3" };
  var LEVEL_ORDER = ["l2a", "l2b", "l3"];
  var GEOMETRY_ORDER = ["LOS ascending", "LOS descending", "LOS", "up-down", "east-west"];
  var NO_AREA = "Other areas";
  var MAX_ROWS = 14;

  function geometry(dataset) {
    if (dataset.level === "l3") return dataset.component;
    return dataset.pass_direction ? "LOS " + dataset.pass_direction : "LOS";
  }

  /* "Dax · L2b LOS ascending"; without areas on any dataset, only "L2b LOS ascending". */
  function groupLabel(dataset, withArea) {
    var product = (LEVELS[dataset.level] || dataset.level) + " " + geometry(dataset);
    return withArea === false ? product : (dataset.area || NO_AREA) + " · " + product;
  }

  function optionText(dataset) {
    return dataset.name + (dataset.status === "draft" ? " (draft)" : "") + (dataset.sees_points ? "" : " (cells only)");
  }

  function rank(list, value) {
    var index = list.indexOf(value);
    return index < 0 ? list.length : index;
  }

  /* Areas in alphabetical order (datasets without one last), then level, geometry and name. */
  function compare(a, b) {
    if (!a.area !== !b.area) return a.area ? -1 : 1;
    return (a.area || "").localeCompare(b.area || "") ||
      rank(LEVEL_ORDER, a.level) - rank(LEVEL_ORDER, b.level) ||
      rank(GEOMETRY_ORDER, geometry(a)) - rank(GEOMETRY_ORDER, geometry(b)) ||
      a.name.localeCompare(b.name);
  }

  /* [{label, datasets}] in display order (pure: the node tests call it). */
  function groups(datasets) {
    var result = [];
    var byLabel = {};
    var withArea = datasets.some(function (dataset) { return Boolean(dataset.area); });
    datasets.slice().sort(compare).forEach(function (dataset) {
      var label = groupLabel(dataset, withArea);
      if (!byLabel[label]) {
        byLabel[label] = { label: label, datasets: [] };
        result.push(byLabel[label]);
      }
      byLabel[label].datasets.push(dataset);
    });
    return result;
  }

  function fill(viewer) {
    var select = document.getElementById("dataset-select");
    var grouped = groups(viewer.config.datasets);
    grouped.forEach(function (group) {
      select.appendChild(GM.el("optgroup", { label: group.label }, group.datasets.map(function (dataset) {
        return GM.el("option", { value: dataset.slug, title: optionText(dataset) }, optionText(dataset));
      })));
    });
    // A list box, not a drop-down: the groups and whole names are in view without opening it.
    var rows = grouped.reduce(function (count, group) { return count + 1 + group.datasets.length; }, 0);
    select.size = Math.max(2, Math.min(rows, MAX_ROWS));
    select.addEventListener("change", function () { viewer.showDataset(select.value); });
  }

  GM.layerPicker = { fill: fill, groups: groups, groupLabel: groupLabel, optionText: optionText };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.layerPicker;
})();
