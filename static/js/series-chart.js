/* An interactive SVG time-series chart: points, fitted line, error band, hover values. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#1f4e79", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085"];
  var WIDTH = 420, HEIGHT = 240, MARGIN = { left: 46, right: 10, top: 10, bottom: 28 };

  function node(name, attributes, parent) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    if (parent) parent.appendChild(element);
    return element;
  }

  function extent(series) {
    var low = Infinity, high = -Infinity, first = Infinity, last = -Infinity;
    series.forEach(function (item) {
      item.times.forEach(function (time, i) {
        var value = item.values[i], spread = item.std || 0;
        first = Math.min(first, time); last = Math.max(last, time);
        if (value === null) return;
        low = Math.min(low, value - spread); high = Math.max(high, value + spread);
      });
    });
    if (!isFinite(low)) { low = -1; high = 1; }
    if (high - low < 1) { low -= 0.5; high += 0.5; }
    return { first: first, last: Math.max(last, first + 1), low: low, high: high };
  }

  function path(times, values, x, y) {
    var parts = [];
    times.forEach(function (time, i) {
      if (values[i] === null || values[i] === undefined) return;
      parts.push((parts.length ? "L" : "M") + x(time).toFixed(1) + "," + y(values[i]).toFixed(1));
    });
    return parts.join(" ");
  }

  function drawAxes(svg, box, x, y) {
    node("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0), class: "chart-zero" }, svg);
    for (var k = 0; k <= 4; k++) {
      var value = box.low + ((box.high - box.low) * k) / 4;
      node("text", { x: MARGIN.left - 4, y: y(value) + 3, class: "chart-tick", "text-anchor": "end" }, svg).textContent = value.toFixed(1);
    }
    var firstYear = new Date(box.first).getUTCFullYear(), lastYear = new Date(box.last).getUTCFullYear();
    for (var year = firstYear + 1; year <= lastYear; year++) {
      var time = Date.UTC(year, 0, 1);
      node("line", { x1: x(time), x2: x(time), y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: "chart-grid" }, svg);
      node("text", { x: x(time), y: HEIGHT - 10, class: "chart-tick", "text-anchor": "middle" }, svg).textContent = year;
    }
    node("text", { x: 10, y: HEIGHT / 2, class: "chart-label", transform: "rotate(-90 10 " + HEIGHT / 2 + ")", "text-anchor": "middle" }, svg).textContent = "LOS mm (+ towards satellite)";
  }

  function drawSeries(svg, item, colour, x, y) {
    if (item.fitted && item.std) {
      var upper = item.fitted.map(function (v) { return v + item.std; });
      var lower = item.fitted.map(function (v) { return v - item.std; });
      var band = path(item.times, upper, x, y) + " " + path(item.times.slice().reverse(), lower.slice().reverse(), x, y).replace(/^M/, "L") + " Z";
      node("path", { d: band, fill: colour, "fill-opacity": 0.12, stroke: "none", class: "chart-band" }, svg);
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
        return item.label + " " + (value === null || value === undefined ? "n/a" : value.toFixed(1) + " mm");
      }).join(" · ");
    });
  }

  /* series: [{label, dates: ["YYYY-MM-DD"], values: [mm|null], fitted: [mm]|null, std: mm|null}] */
  function render(container, series) {
    container.innerHTML = "";
    series.forEach(function (item) { item.times = item.dates.map(function (d) { return Date.parse(d + "T00:00:00Z"); }); });
    var box = extent(series);
    var x = function (time) { return MARGIN.left + ((time - box.first) / (box.last - box.first)) * (WIDTH - MARGIN.left - MARGIN.right); };
    var y = function (value) { return MARGIN.top + ((box.high - value) / (box.high - box.low)) * (HEIGHT - MARGIN.top - MARGIN.bottom); };
    var svg = node("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, class: "series-chart", "data-dates": series[0].dates.length }, container);
    drawAxes(svg, box, x, y);
    series.forEach(function (item, i) { drawSeries(svg, item, COLOURS[i % COLOURS.length], x, y); });
    var tooltip = document.createElement("div");
    tooltip.className = "chart-tooltip";
    tooltip.textContent = "Hover the chart for values";
    container.appendChild(tooltip);
    attachHover(svg, series, x, tooltip);
    return svg;
  }

  GM.seriesChart = { render: render, colours: COLOURS };
})();
