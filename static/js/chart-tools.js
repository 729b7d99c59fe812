/* Chart tools of a single point's panel: the model (linear, + acceleration, + seasonal, + a step
   at a date) with its fitted parameters ± std, detrend, ±λ/2 replicas, and the velocity over
   the chart's zoomed range (drag across the chart; the period when none). Every fit is the
   server's (GET /api/points/<id>/model/); this file only asks and draws. modelQuery, chartSeries
   and zoomWindow are pure (tests/js/chart-tools.test.js). */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var REPLICA_COLOUR = "#7f8c8d";
  var MIN_DATES = 3;
  var NAMES = { offset: "offset", velocity: "velocity", acceleration: "acceleration", seasonal_sin: "seasonal sin",
                seasonal_cos: "seasonal cos", seasonal_amplitude: "seasonal amplitude", step: "step" };

  /* "?terms=…&step=…&start=…&end=…&reference=…" of the tools and the analysis; the window is the
     zoom, else the period. */
  function modelQuery(tools, analysis) {
    var params = new URLSearchParams();
    if (tools.terms.length) params.set("terms", tools.terms.join(","));
    if (tools.step) params.set("step", tools.step);
    var span = tools.zoom || (analysis.start && analysis.end ? { start: analysis.start, end: analysis.end } : null);
    if (span) { params.set("start", span.start); params.set("end", span.end); }
    if (analysis.reference) params.set("reference", String(analysis.reference));
    return "?" + params.toString();
  }

  function keepIn(values, dates, span) {
    return span ? values.filter(function (v, i) { return dates[i] >= span.start && dates[i] <= span.end; }) : values;
  }

  function shifted(values, by) {
    return values.map(function (v) { return v === null || v === undefined ? null : v + by; });
  }

  /* The chart's series from a model body: the displacements (detrended: minus the fitted trend,
     and the fit with them), the fit, and with replicas the series ± replica_mm. Within the zoom. */
  function chartSeries(body, tools, label, note) {
    var values = tools.detrend ? body.detrended : body.displacements, fitted = body.fitted;
    if (tools.detrend) {
      fitted = fitted.map(function (f, i) {
        var v = body.displacements[i], d = body.detrended[i];
        return f === null || v === null || d === null ? null : f - (v - d);
      });
    }
    var dates = keepIn(body.dates, body.dates, tools.zoom);
    var item = { label: label, note: note, dates: dates, values: keepIn(values, body.dates, tools.zoom),
                 fitted: keepIn(fitted, body.dates, tools.zoom), std: body.residual_std_mm };
    var series = [item];
    if (tools.replicas && body.replica_mm) {
      [1, -1].forEach(function (sign) {
        series.push({ label: "±λ/2 (" + body.replica_mm.toFixed(1) + " mm)", dates: dates, values: shifted(item.values, sign * body.replica_mm),
                      fitted: null, std: null, faint: true, colour: REPLICA_COLOUR });
      });
    }
    return series;
  }

  /* The dates [start, end] of a drag from px `a` to px `b` (viewBox units) on a chart of scale
     `scale`, snapped inwards to `dates`; null when it holds fewer than MIN_DATES. */
  function zoomWindow(scale, size, a, b, dates) {
    var left = size.margin.left, right = size.width - size.margin.right;
    var time = function (px) { return scale.first + (Math.min(Math.max(px, left), right) - left) / (right - left) * (scale.last - scale.first); };
    var from = new Date(time(Math.min(a, b))).toISOString().slice(0, 10), to = new Date(time(Math.max(a, b))).toISOString().slice(0, 10);
    var inside = dates.filter(function (d) { return d >= from && d <= to; });
    return inside.length >= MIN_DATES ? { start: inside[0], end: inside[inside.length - 1] } : null;
  }

  function checkbox(id, text, checked) {
    var box = GM.el("input", { type: "checkbox", id: id });
    box.checked = checked;
    return { box: box, label: GM.el("label", { className: "chart-tool" }, [box, " " + text]) };
  }

  function parameterTable(body, windowText) {
    var rows = body.parameters.map(function (p) {
      var value = p.value === null ? "n/a" : p.value.toFixed(2) + (p.std === null || p.std === undefined ? "" : " ± " + p.std.toFixed(2));
      return GM.el("tr", { "data-name": p.name }, [GM.el("th", null, NAMES[p.name] || p.name), GM.el("td", null, value + " " + (p.unit || ""))]);
    });
    var residual = body.residual_std_mm === null || body.residual_std_mm === undefined ? "n/a" : body.residual_std_mm.toFixed(2) + " mm";
    var origin = body.columns && body.columns.indexOf("acceleration") >= 0
      ? GM.panelMessage("hint", "With acceleration, the velocity is the rate at the layer's first date (t = 0).") : null;
    return [GM.el("p", { className: "model-window" }, "Fit over " + windowText + " (" + body.count + " dates), residual std " + residual + ":"),
      GM.el("table", { className: "model-parameters" }, rows), origin].filter(Boolean);
  }

  /* The tools, the chart and the parameters of `point` in the panel's chart area. */
  function show(viewer, point, initial, quantity) {
    var tools = viewer.chartTools = viewer.chartTools || { terms: [], step: null, detrend: false, replicas: false, zoom: null };
    if (viewer.chartPoint !== point.id) tools.zoom = null; // a zoom is of one point's chart
    viewer.chartPoint = point.id;
    var container = viewer.panel.chart, chart = GM.el("div", { className: "chart-area" }), result = GM.el("div", { className: "model-result" });
    var acceleration = checkbox("model-acceleration", "acceleration", tools.terms.indexOf("acceleration") >= 0);
    var seasonal = checkbox("model-seasonal", "seasonal", tools.terms.indexOf("seasonal") >= 0);
    var step = checkbox("model-step", "step at", Boolean(tools.step));
    var middle = point.dates[Math.floor(point.dates.length / 2)];
    var stepDate = GM.el("input", { type: "date", id: "model-step-date", value: tools.step || middle, min: point.dates[0], max: point.dates[point.dates.length - 1] });
    var detrend = checkbox("chart-detrend", "detrend", tools.detrend);
    var replicas = checkbox("chart-replicas", "±λ/2 replicas", tools.replicas);
    var reset = GM.el("button", { type: "button", id: "chart-zoom-reset", hidden: tools.zoom ? null : "" }, "Reset zoom");
    container.replaceChildren(
      GM.el("div", { className: "chart-tools" }, [GM.el("span", null, "Model: linear +"), acceleration.label, seasonal.label,
        GM.el("span", { className: "chart-tool-step" }, [step.label, stepDate])]),
      GM.el("div", { className: "chart-tools" }, [detrend.label, replicas.label, reset]),
      chart, GM.el("p", { className: "hint" }, "Drag across the chart to fit over a date range."), result);
    var draw = function (series) {
      var svg = GM.seriesChart.render(chart, series, { yLabel: quantity && quantity.displacement_label });
      attachZoom(svg, series[0].dates, function (span) { tools.zoom = span; refit(); });
    };
    var refit = function () {
      tools.terms = [acceleration, seasonal].filter(function (c) { return c.box.checked; }).map(function (c) { return c.box.id.replace("model-", ""); });
      tools.step = step.box.checked ? stepDate.value : null;
      tools.detrend = detrend.box.checked;
      tools.replicas = replicas.box.checked;
      reset.hidden = !tools.zoom;
      var query = modelQuery(tools, viewer.analysis || {});
      var url = viewer.config.apiUrl + "points/" + encodeURIComponent(point.id) + "/model/" + query;
      result.setAttribute("data-query", query);
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; }, function () { return { ok: false, body: {} }; });
      }).then(function (answer) {
        if (viewer.chartPoint !== point.id) return;
        if (!answer.ok) {
          result.replaceChildren(GM.panelMessage("error", "Model: " + (Object.keys(answer.body).map(function (k) { return k + ": " + answer.body[k]; }).join("; ") || "not available")));
          return;
        }
        var body = answer.body, span = tools.zoom || (viewer.analysis && viewer.analysis.start ? viewer.analysis : null);
        draw(chartSeries(body, tools, initial.label, initial.note));
        result.replaceChildren.apply(result, parameterTable(body, span ? span.start + " – " + span.end : "the whole window"));
        result.setAttribute("data-terms", tools.terms.concat(tools.step ? ["step"] : []).join(","));
      });
    };
    [acceleration, seasonal, step, detrend, replicas].forEach(function (c) { c.box.addEventListener("change", refit); });
    stepDate.addEventListener("change", function () { if (step.box.checked) refit(); });
    reset.addEventListener("click", function () { tools.zoom = null; refit(); });
    draw([initial]);
    refit();
  }

  /* Drag across the chart: a grey band while dragging, then onZoom({start, end}). */
  function attachZoom(svg, dates, onZoom) {
    var size = GM.seriesChart.size, from = null, band = null;
    var px = function (event) {
      var bounds = svg.getBoundingClientRect();
      return ((event.clientX - bounds.left) / bounds.width) * size.width;
    };
    svg.addEventListener("mousedown", function (event) {
      event.preventDefault();
      from = px(event);
      band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      band.setAttribute("class", "chart-zoom-band");
      band.setAttribute("y", size.margin.top);
      band.setAttribute("height", size.height - size.margin.top - size.margin.bottom);
      svg.appendChild(band);
    });
    svg.addEventListener("mousemove", function (event) {
      if (from === null) return;
      var to = px(event);
      band.setAttribute("x", Math.min(from, to));
      band.setAttribute("width", Math.abs(to - from));
    });
    svg.addEventListener("mouseup", function (event) {
      if (from === null) return;
      var span = Math.abs(px(event) - from) > 6 ? zoomWindow(svg.chartScale, size, from, px(event), dates) : null;
      from = null;
      band.remove();
      if (span) onZoom(span);
    });
  }

  GM.chartTools = { show: show, modelQuery: modelQuery, chartSeries: chartSeries, zoomWindow: zoomWindow };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.chartTools;
})();
