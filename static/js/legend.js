/* Diverging velocity colour scale and its legend, with an adjustable range, the sign convention
   of the layer's quantity, and the velocity and coherence filters. The scale (STOPS, colourAt,
   colourFor), signNote and passes are pure; tests/js/legend*.test.js load this file in node. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var NO_VALUE = "#888";

  // Red: negative (away from the satellite, west, down); blue: positive (towards, east, up).
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

  // Until the first layer is shown: LOS words, the product most datasets are.
  var LOS = { component: "los", short: "LOS", positive: "towards the satellite", negative: "away from the satellite",
              velocity_label: "LOS velocity (mm/yr)", displacement_label: "LOS displacement, mm (+ towards satellite)" };

  /* The legend's sign note for a quantity (groundmotion/quantities.py): [lead, bold, rest]. */
  function signNote(quantity, inverted) {
    var q = quantity || LOS;
    var colours = inverted ? "Colours reversed: blue is " + q.negative + ", red " + q.positive + "."
      : "Red is " + q.negative + ", blue " + q.positive + ".";
    if (q.component === "los") {
      return ["Positive " + q.short + " values move ", q.positive,
        " (uplift shows positive on both passes); negative values move " + q.negative + ". " + colours];
    }
    return ["Positive values: ", "+ " + q.positive,
      "; negative values: " + q.negative + " (" + q.short + " component). " + colours];
  }

  function Legend(element, onChange) {
    this.element = element;
    this.range = 10;
    this.inverted = false;
    this.quantity = LOS;
    this.onChange = onChange;
    this.render();
  }

  /* Tiles round velocities to 0.1 mm/yr: a few hundred distinct values, each coloured once per
     range and direction rather than once per feature. */
  Legend.prototype.colour = function (velocity) {
    var state = this.range + "|" + this.inverted;
    if (this.coloured !== state) { this.colours = new Map(); this.coloured = state; }
    var colour = this.colours.get(velocity);
    if (colour === undefined) {
      colour = colourFor(velocity, this.range, this.inverted);
      this.colours.set(velocity, colour);
    }
    return colour;
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

    var parts = signNote(this.quantity, this.inverted);
    var note = create("p", "legend-note");
    note.append(parts[0], create("b", null, parts[1]), parts[2]);

    var analysis = this.analysis || {};
    var title = create("div", "legend-title", analysis.title || this.quantity.velocity_label);
    var period = analysis.note ? create("div", "legend-analysis", analysis.note) : null;
    this.element.replaceChildren.apply(this.element, [title, period, bar, labels, rangeLabel, invertLabel, note].filter(Boolean));
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

  /* The words of the layer shown (a dataset's `quantity`); redraws the title and note only. */
  Legend.prototype.setQuantity = function (quantity) {
    this.quantity = quantity || LOS;
    this.render();
  };

  /* The analysis shown (analysis-controls.js words(): {title, note}, or null for the stored
     velocity); redraws the title and note only. */
  Legend.prototype.setAnalysis = function (words) {
    this.analysis = words;
    this.render();
  };

  /* Whether a tile feature passes the filters {vmin, vmax, amin, cmin} (null: no bound). Cells
     pass or fail by their mean velocity and mean coherence. A feature without the value a bound
     needs fails that bound. */
  function passes(properties, filter) {
    if (!filter) return true;
    var v = properties.velocity, c = properties.coherence;
    var known = function (value) { return value !== null && value !== undefined && !isNaN(value); };
    if (isSet(filter.vmin) && !(known(v) && v >= filter.vmin)) return false;
    if (isSet(filter.vmax) && !(known(v) && v <= filter.vmax)) return false;
    if (isSet(filter.amin) && !(known(v) && Math.abs(v) >= filter.amin)) return false;
    if (isSet(filter.cmin) && !(known(c) && c >= filter.cmin)) return false;
    return true;
  }

  function isSet(value) {
    return value !== null && value !== undefined && isFinite(value);
  }

  var FILTER_FIELDS = [
    ["vmin", "velocity ≥", "mm/yr", "0.5"], ["vmax", "velocity ≤", "mm/yr", "0.5"],
    ["amin", "|velocity| ≥", "mm/yr", "0.5"], ["cmin", "coherence ≥", "(0–1)", "0.05"],
  ];
  var FAST_MOVERS = 5; // mm/yr: the preset's |velocity| bound
  var TYPING_PAUSE_MS = 150;

  /* The filter inputs in `element`; onChange(filter) after each edit (a pause in typing, a
     committed value or a button). */
  function Filters(element, onChange) {
    this.element = element;
    this.filter = {};
    this.onChange = onChange;
    this.inputs = {};
    var self = this;
    var rows = FILTER_FIELDS.map(function (field) {
      var input = create("input");
      input.type = "number";
      input.id = "filter-" + field[0];
      input.step = field[3];
      // Restyling every loaded tile costs about 10 ms per 1,000 features: typing waits for a pause.
      input.addEventListener("input", function () {
        clearTimeout(self.typing);
        self.typing = setTimeout(function () { self.read(); }, TYPING_PAUSE_MS);
      });
      input.addEventListener("change", function () { clearTimeout(self.typing); self.read(); });
      self.inputs[field[0]] = input;
      var label = create("label", "filter-row");
      label.append(field[1] + " ", input, " " + field[2]);
      return label;
    });
    var fast = create("button", null, "Fast movers (|v| ≥ " + FAST_MOVERS + ")");
    fast.type = "button";
    fast.id = "filter-fast";
    fast.addEventListener("click", function () { self.set({ amin: FAST_MOVERS }); self.onChange(self.filter); });
    var clear = create("button", null, "Clear");
    clear.type = "button";
    clear.id = "filter-clear";
    clear.addEventListener("click", function () { self.set({}); self.onChange(self.filter); });
    var buttons = create("div", "filter-buttons");
    buttons.append(fast, clear);
    this.count = create("p", "hint filter-count");
    var note = create("p", "hint", "Below the point zoom, cells are filtered by their mean velocity and mean coherence.");
    element.replaceChildren.apply(element, [create("legend", null, "Filters")].concat(rows, [buttons, note, this.count]));
  }

  Filters.prototype.read = function () {
    var filter = {}, inputs = this.inputs;
    Object.keys(inputs).forEach(function (key) {
      var value = inputs[key].value === "" ? NaN : Number(inputs[key].value);
      if (isFinite(value)) filter[key] = value;
    });
    if (JSON.stringify(filter) === JSON.stringify(this.filter)) return; // typed, then committed
    this.filter = filter;
    this.onChange(filter);
  };

  /* Shows `filter` in the inputs without calling onChange. */
  Filters.prototype.set = function (filter) {
    var inputs = this.inputs;
    this.filter = {};
    Object.keys(inputs).forEach(function (key) {
      var set = filter && isSet(filter[key]);
      inputs[key].value = set ? String(filter[key]) : "";
      if (set) this.filter[key] = filter[key];
    }, this);
  };

  Filters.prototype.active = function () {
    return Object.keys(this.filter).length > 0;
  };

  GM.Legend = Legend;
  GM.Filters = Filters;
  GM.colourAt = colourAt;
  GM.colourScale = { STOPS: STOPS, NO_VALUE: NO_VALUE, colourAt: colourAt, colourFor: colourFor, barColours: barColours,
                     signNote: signNote, passes: passes, FAST_MOVERS: FAST_MOVERS };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.colourScale;
})();
