/* Diverging velocity colour scale and its legend, with an adjustable range and sign convention.
   The scale (STOPS, colourAt, colourFor) is pure; tests/js/legend.test.js loads this file in node. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var NO_VALUE = "#888";

  // Red: away from the satellite (subsidence on both passes); blue: towards it (uplift).
  var STOPS = [
    [-1.0, [165, 0, 38]],
    [-0.5, [244, 109, 67]],
    [0.0, [255, 255, 191]],
    [0.5, [116, 173, 209]],
    [1.0, [49, 54, 149]],
  ];

  function mix(a, b, t) {
    return Math.round(a + (b - a) * t);
  }

  /* The colour at a position in [-1, 1] (clamped): "rgb(r,g,b)", linear between the stops. */
  function colourAt(position) {
    var p = Math.max(-1, Math.min(1, position));
    for (var i = 1; i < STOPS.length; i++) {
      if (p <= STOPS[i][0]) {
        var low = STOPS[i - 1], high = STOPS[i];
        var t = (p - low[0]) / (high[0] - low[0]);
        return "rgb(" + [0, 1, 2].map(function (k) { return mix(low[1][k], high[1][k], t); }).join(",") + ")";
      }
    }
    return "rgb(49,54,149)";
  }

  /* A velocity's colour (mm/yr) for a range of ± range mm/yr; grey when there is no value. */
  function colourFor(velocity, range, inverted) {
    if (velocity === null || velocity === undefined || isNaN(velocity)) return NO_VALUE;
    var sign = inverted ? -1 : 1;
    return colourAt((sign * velocity) / range);
  }

  /* The legend bar's eleven colours, left (-range) to right (+range). */
  function barColours(inverted) {
    var colours = [];
    for (var i = 0; i <= 10; i++) colours.push(colourAt(inverted ? 1 - i / 5 : i / 5 - 1));
    return colours;
  }

  function create(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function Legend(element, onChange) {
    this.element = element;
    this.range = 10;
    this.inverted = false;
    this.onChange = onChange;
    this.render();
  }

  Legend.prototype.colour = function (velocity) {
    return colourFor(velocity, this.range, this.inverted);
  };

  Legend.prototype.render = function () {
    var self = this;
    var bar = create("div", "legend-bar");
    bar.style.background = "linear-gradient(to right," + barColours(this.inverted).join(",") + ")";
    var labels = create("div", "legend-labels");
    ["-" + this.range, "0", "+" + this.range].forEach(function (text) { labels.appendChild(create("span", null, text)); });

    var rangeInput = create("input");
    rangeInput.type = "number";
    rangeInput.id = "legend-range";
    rangeInput.min = "0.5";
    rangeInput.max = "100";
    rangeInput.step = "0.5";
    rangeInput.value = String(this.range);
    var rangeLabel = create("label");
    rangeLabel.append("Range ± ", rangeInput, " mm/yr");

    var invertInput = create("input");
    invertInput.type = "checkbox";
    invertInput.id = "legend-invert";
    invertInput.checked = this.inverted;
    var invertLabel = create("label");
    invertLabel.append(invertInput, " reverse colours");

    var note = create("p", "legend-note");
    note.append("Positive line-of-sight values move ", create("b", null, "towards the satellite"),
      " (uplift on both passes); negative values move away (subsidence). " +
      (this.inverted ? "Colours reversed: blue is away." : "Red is away, blue towards."));

    this.element.replaceChildren(create("div", "legend-title", "LOS velocity (mm/yr)"), bar, labels,
      rangeLabel, invertLabel, note);
    rangeInput.addEventListener("change", function (event) {
      var value = parseFloat(event.target.value);
      if (value > 0) self.setRange(value);
    });
    invertInput.addEventListener("change", function (event) {
      self.inverted = event.target.checked;
      self.render();
      self.onChange();
    });
  };

  Legend.prototype.setRange = function (value) {
    this.range = value;
    this.render();
    this.onChange();
  };

  GM.Legend = Legend;
  GM.colourAt = colourAt;
  GM.colourScale = { STOPS: STOPS, NO_VALUE: NO_VALUE, colourAt: colourAt, colourFor: colourFor, barColours: barColours };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.colourScale;
})();
