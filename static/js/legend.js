/* Diverging velocity colour scale and its legend, with an adjustable range and sign convention. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

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

  function Legend(element, onChange) {
    this.element = element;
    this.range = 10;
    this.inverted = false;
    this.onChange = onChange;
    this.render();
  }

  Legend.prototype.colour = function (velocity) {
    if (velocity === null || velocity === undefined || isNaN(velocity)) return "#888";
    var sign = this.inverted ? -1 : 1;
    return colourAt((sign * velocity) / this.range);
  };

  Legend.prototype.render = function () {
    var self = this;
    var stops = [];
    for (var i = 0; i <= 10; i++) stops.push(colourAt(this.inverted ? 1 - i / 5 : i / 5 - 1));
    this.element.innerHTML =
      '<div class="legend-title">LOS velocity (mm/yr)</div>' +
      '<div class="legend-bar" style="background: linear-gradient(to right,' + stops.join(",") + ')"></div>' +
      '<div class="legend-labels"><span>-' + this.range + '</span><span>0</span><span>+' + this.range + "</span></div>" +
      '<label>Range ± <input type="number" id="legend-range" min="0.5" max="100" step="0.5" value="' + this.range + '"> mm/yr</label>' +
      '<label><input type="checkbox" id="legend-invert"' + (this.inverted ? " checked" : "") + "> reverse colours</label>" +
      '<p class="legend-note">Positive line-of-sight values move <b>towards the satellite</b> (uplift on both passes); ' +
      "negative values move away (subsidence). " + (this.inverted ? "Colours reversed: blue is away." : "Red is away, blue towards.") + "</p>";
    this.element.querySelector("#legend-range").addEventListener("change", function (event) {
      var value = parseFloat(event.target.value);
      if (value > 0) self.setRange(value);
    });
    this.element.querySelector("#legend-invert").addEventListener("change", function (event) {
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
})();
