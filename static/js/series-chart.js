/* An interactive SVG time-series chart: points, fitted line, error band, hover values, a legend
   of the series. The scale helpers (extent, niceTicks, yearTicks, timeTicks, linearScale, scales) are pure:
   tests/js/series-chart.test.js loads this file in node. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#1f4e79", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085"];
  var WIDTH = 420, HEIGHT = 240, MARGIN = { left: 46, right: 10, top: 10, bottom: 28 };

  function node(name, attributes, parent) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    if (parent) parent.appendChild(element);
    return element;
  }

  function toTimes(dates) {
    return dates.map(function (d) { return Date.parse(d + "T00:00:00Z"); });
  }

  /* Time and value bounds of every series (values widened by each series' std, a number or one a
     date), at least 1 mm tall. */
  function extent(series) {
    var low = Infinity, high = -Infinity, first = Infinity, last = -Infinity;
    series.forEach(function (item) {
      item.times.forEach(function (time, i) {
        var value = item.values[i];
        var spread = Array.isArray(item.std) ? item.std[i] || 0 : item.std || 0;
        first = Math.min(first, time); last = Math.max(last, time);
        if (value === null || value === undefined) return;
        low = Math.min(low, value - spread); high = Math.max(high, value + spread);
      });
    });
    if (!isFinite(low)) { low = -1; high = 1; }
    if (high - low < 1) { low -= 0.5; high += 0.5; }
    return { first: first, last: Math.max(last, first + 1), low: low, high: high };
  }

  /* Round ticks covering [low, high] in about `count` steps of 1, 2 or 5 x 10^n; the axis
     is widened to the outer ticks. Values are rounded to the step's decimals (no 0.30000000000000004). */
  function niceTicks(low, high, count) {
    var raw = (high - low) / (count || 4);
    if (!(raw > 0) || !isFinite(raw)) raw = 1;
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var residual = raw / magnitude;
    var tolerance = 1 + 1e-9; // 0.3 / 3 is 0.10000000000000002: a step of 1, not 2
    var step = (residual <= tolerance ? 1 : residual <= 2 * tolerance ? 2 : residual <= 5 * tolerance ? 5 : 10) * magnitude;
    var decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    var round = function (value) { return parseFloat(value.toFixed(decimals)) + 0; };
    var start = Math.floor(low / step + 1e-9), end = Math.ceil(high / step - 1e-9);
    var ticks = [];
    for (var k = start; k <= end; k++) ticks.push(round(k * step));
    return { low: ticks[0], high: ticks[ticks.length - 1], step: step, decimals: decimals, ticks: ticks };
  }

  /* 1 January (UTC, ms) of every year from first to last inclusive. */
  function yearTicks(first, last) {
    var ticks = [];
    for (var year = new Date(first).getUTCFullYear(); year <= new Date(last).getUTCFullYear(); year++) {
      var time = Date.UTC(year, 0, 1);
      if (time >= first && time <= last) ticks.push(time);
    }
    return ticks;
  }

  /* The x ticks: 1 January of each year, or, over less than two years' span of New Years, the first of
     every 1, 2, 3 or 6 months (at most 8 ticks). {times, labels}. */
  function timeTicks(first, last) {
    var years = yearTicks(first, last);
    if (years.length >= 2) {
      return { times: years, labels: years.map(function (time) { return String(new Date(time).getUTCFullYear()); }) };
    }
    var start = new Date(first), months = (new Date(last).getUTCFullYear() - start.getUTCFullYear()) * 12 +
      new Date(last).getUTCMonth() - start.getUTCMonth();
    var step = [1, 2, 3, 6, 12].filter(function (size) { return months / size <= 8; })[0] || 12;
    var times = [];
    for (var k = 0; k <= months + 1; k++) {
      var month = start.getUTCMonth() + k;
      var time = Date.UTC(start.getUTCFullYear(), month, 1);
      if (time >= first && time <= last && new Date(time).getUTCMonth() % step === 0) times.push(time);
    }
    return { times: times, labels: times.map(function (time) { return new Date(time).toISOString().slice(0, 7); }) };
  }

  /* Maps [domain[0], domain[1]] linearly onto [range[0], range[1]]. */
  function linearScale(domain, range) {
    var factor = (range[1] - range[0]) / (domain[1] - domain[0]);
    return function (value) { return range[0] + (value - domain[0]) * factor; };
  }

  /* The chart's x (time) and y (mm) scales and ticks for series whose `times` are set. */
  function scales(series) {
    var box = extent(series);
    var values = niceTicks(box.low, box.high, 4);
    return {
      first: box.first, last: box.last, low: values.low, high: values.high,
      x: linearScale([box.first, box.last], [MARGIN.left, WIDTH - MARGIN.right]),
      y: linearScale([values.low, values.high], [HEIGHT - MARGIN.bottom, MARGIN.top]),
      valueTicks: values.ticks, step: values.step, decimals: values.decimals, yearTicks: yearTicks(box.first, box.last),
      timeTicks: timeTicks(box.first, box.last),
    };
  }

  function path(times, values, x, y) {
    var parts = [];
    times.forEach(function (time, i) {
      if (values[i] === null || values[i] === undefined) return;
      parts.push((parts.length ? "L" : "M") + x(time).toFixed(1) + "," + y(values[i]).toFixed(1));
    });
    return parts.join(" ");
  }

  function drawAxes(svg, scale, yLabel) {
    var x = scale.x, y = scale.y;
    if (scale.low <= 0 && scale.high >= 0) {
      node("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0), class: "chart-zero" }, svg);
    }
    scale.valueTicks.forEach(function (value) {
      node("text", { x: MARGIN.left - 4, y: y(value) + 3, class: "chart-tick", "text-anchor": "end" }, svg).textContent = value.toFixed(scale.decimals);
    });
    var labelled = -Infinity;
    scale.timeTicks.times.forEach(function (time, i) {
      node("line", { x1: x(time), x2: x(time), y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: "chart-grid" }, svg);
      // A label at either end is anchored inwards, not cut by the edge; one that would touch the
      // previous label ("2024-07" "2024-10" at the right edge) is left out, its grid line kept.
      var anchor = x(time) > WIDTH - MARGIN.right - 12 ? "end" : x(time) < MARGIN.left + 12 ? "start" : "middle";
      if (x(time) - labelled < (anchor === "middle" ? 36 : 54)) return;
      labelled = x(time);
      node("text", { x: x(time), y: HEIGHT - 10, class: "chart-tick chart-time-tick", "text-anchor": anchor }, svg).textContent = scale.timeTicks.labels[i];
    });
    node("text", { x: 10, y: HEIGHT / 2, class: "chart-label", transform: "rotate(-90 10 " + HEIGHT / 2 + ")", "text-anchor": "middle" }, svg).textContent = yLabel;
  }

  /* The band: fitted ± std (a number: the fit's residual std), or values ± std (one a date). */
  function bandPath(item, x, y) {
    var perDate = Array.isArray(item.std), centre = perDate ? item.values : item.fitted;
    var at = function (sign) {
      return centre.map(function (v, i) {
        var spread = perDate ? item.std[i] : item.std;
        return v === null || v === undefined || spread === null || spread === undefined ? null : v + sign * spread;
      });
    };
    var upper = at(1), lower = at(-1);
    var kept = item.times.filter(function (time, i) { return upper[i] !== null; });
    var keep = function (values) { return values.filter(function (v) { return v !== null; }); };
    return path(kept, keep(upper), x, y) + " " + path(kept.slice().reverse(), keep(lower).reverse(), x, y).replace(/^M/, "L") + " Z";
  }

  function drawSeries(svg, item, colour, x, y) {
    if (item.faint) { // a copy of a series (±λ/2 replicas): small, pale, no band or fit
      var faint = node("g", { class: "chart-points chart-faint", fill: colour, "fill-opacity": 0.3 }, svg);
      item.times.forEach(function (time, i) {
        if (item.values[i] !== null && item.values[i] !== undefined) node("circle", { cx: x(time).toFixed(1), cy: y(item.values[i]).toFixed(1), r: 1.5 }, faint);
      });
      return;
    }
    if ((item.fitted && typeof item.std === "number" && item.std > 0) || Array.isArray(item.std)) {
      node("path", { d: bandPath(item, x, y), fill: colour, "fill-opacity": 0.15, stroke: "none", class: "chart-band" }, svg);
    }
    var group = node("g", { class: "chart-points", fill: colour }, svg);
    item.times.forEach(function (time, i) {
      if (item.values[i] === null) return;
      node("circle", { cx: x(time).toFixed(1), cy: y(item.values[i]).toFixed(1), r: 2 }, group);
    });
    if (item.fitted) node("path", { d: path(item.times, item.fitted, x, y), stroke: colour, fill: "none", "stroke-width": 1.5, class: "chart-fit" }, svg);
  }

  function attachHover(svg, series, x, tooltip) {
    var marker = node("line", { y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: "chart-hover", visibility: "hidden" }, svg);
    svg.addEventListener("mousemove", function (event) {
      var bounds = svg.getBoundingClientRect();
      var px = ((event.clientX - bounds.left) / bounds.width) * WIDTH;
      var times = series[0].times, best = 0;
      times.forEach(function (time, i) { if (Math.abs(x(time) - px) < Math.abs(x(times[best]) - px)) best = i; });
      marker.setAttribute("x1", x(times[best])); marker.setAttribute("x2", x(times[best]));
      marker.setAttribute("visibility", "visible");
      tooltip.textContent = series[0].dates[best] + ": " + series.map(function (item) {
        var value = item.values[best];
        var spread = Array.isArray(item.std) ? item.std[best] : null;
        return item.label + " " + (value === null || value === undefined ? "n/a" : value.toFixed(1) +
          (spread === null || spread === undefined ? "" : " ± " + spread.toFixed(1)) + " mm");
      }).join(" · ");
    });
  }

  /* One line a series: its colour, label and note ("ASC000007 · Dax ascending"). */
  function drawLegend(container, series) {
    var legend = document.createElement("div");
    legend.className = "chart-legend";
    var faintShown = false;
    series.forEach(function (item, i) {
      if (item.faint && faintShown) return; // one entry for the pair of replicas
      faintShown = faintShown || Boolean(item.faint);
      var entry = document.createElement("span");
      entry.className = "chart-legend-item";
      entry.setAttribute("data-label", item.label);
      var swatch = document.createElement("span");
      swatch.className = "chart-swatch";
      swatch.style.background = item.colour || COLOURS[i % COLOURS.length];
      if (item.faint) swatch.style.opacity = "0.4";
      entry.append(swatch, String(item.label) + (item.note ? " · " + item.note : ""));
      legend.appendChild(entry);
    });
    container.appendChild(legend);
  }

  /* series: [{label, note?, dates: ["YYYY-MM-DD"], values: [mm|null], fitted: [mm]|null,
               std: mm (band around fitted) | [mm|null] (band around values) | null,
               colour?, faint?: true for a pale copy without band or fit (one legend entry)}]
     options: {yLabel: the axis words (the dataset's displacement_label)} */
  function render(container, series, options) {
    var yLabel = (options && options.yLabel) || "displacement, mm";
    container.replaceChildren();
    series.forEach(function (item) { item.times = toTimes(item.dates); });
    var scale = scales(series);
    var svg = node("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, class: "series-chart", "data-dates": series[0].dates.length,
                            "data-step": scale.step }, container);
    drawAxes(svg, scale, yLabel);
    series.forEach(function (item, i) { drawSeries(svg, item, item.colour || COLOURS[i % COLOURS.length], scale.x, scale.y); });
    svg.chartScale = scale; // chart-tools.js turns a drag into dates with it
    drawLegend(container, series);
    var tooltip = document.createElement("div");
    tooltip.className = "chart-tooltip";
    tooltip.textContent = "Hover the chart for values";
    container.appendChild(tooltip);
    attachHover(svg, series, scale.x, tooltip);
    return svg;
  }

  GM.seriesChart = {
    render: render, colours: COLOURS, size: { width: WIDTH, height: HEIGHT, margin: MARGIN },
    toTimes: toTimes, extent: extent, niceTicks: niceTicks, yearTicks: yearTicks, timeTicks: timeTicks, linearScale: linearScale, scales: scales,
  };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.seriesChart;
})();
