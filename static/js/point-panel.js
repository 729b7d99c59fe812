/* The side panel: a point's series chart, shift-click comparison and download links. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});
  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  /* Text for the panel's HTML: pids, search text and server messages come from outside. */
  GM.escapeHtml = function (value) {
    return String(value).replace(/[&<>"']/g, function (character) { return ENTITIES[character]; });
  };

  function Panel(element) {
    this.element = element;
    this.title = element.querySelector(".panel-title");
    this.body = element.querySelector(".panel-body");
    this.chart = element.querySelector(".panel-chart");
    var self = this;
    element.querySelector(".panel-close").addEventListener("click", function () { self.close(); });
  }

  Panel.prototype.open = function (title, html) {
    this.title.textContent = title;
    this.body.innerHTML = html;
    this.chart.innerHTML = "";
    this.element.hidden = false;
    if (this.onResize) this.onResize();
  };

  Panel.prototype.close = function () {
    this.element.hidden = true;
    if (this.onClose) this.onClose();
    if (this.onResize) this.onResize();
  };

  function pointLinks(apiUrl, point) {
    var base = apiUrl + "points/" + point.id + "/";
    return '<li><b>' + GM.escapeHtml(point.pid) + "</b> " + (point.velocity === null ? "" : point.velocity.toFixed(2) + " mm/yr") +
      ' · <a href="' + base + 'plot.png">PNG</a> · <a href="' + base + 'plot.svg">SVG</a> · <a href="' + base + 'series.csv">CSV</a></li>';
  }

  function asSeries(point) {
    var model = point.model;
    return { label: point.pid, dates: point.dates, values: point.displacements,
             fitted: model ? model.fitted : null, std: model ? model.residual_std_mm : null };
  }

  /* Show the given point ids (several when comparing). */
  function showPoints(viewer, ids) {
    var requests = ids.map(function (id) {
      return fetch(viewer.config.apiUrl + "points/" + id + "/", { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; });
    });
    return Promise.all(requests).then(function (points) {
      points = points.filter(Boolean);
      if (!points.length) {
        viewer.panel.open("Point", '<p class="error">Point not found or not visible to you.</p>');
        return;
      }
      var list = points.map(function (point) { return pointLinks(viewer.config.apiUrl, point); }).join("");
      var hint = points.length === 1 ? '<p class="hint">Shift-click another point to compare.</p>' : "";
      viewer.panel.open(points.length === 1 ? "Point " + points[0].pid : "Comparing " + points.length + " points",
        '<ul class="point-list">' + list + "</ul>" + hint);
      GM.seriesChart.render(viewer.panel.chart, points.map(asSeries));
    });
  }

  function showCell(viewer, properties) {
    var velocity = properties.velocity === undefined || properties.velocity === null ? "n/a" : properties.velocity.toFixed(2) + " mm/yr";
    viewer.panel.open("Cell", "<p>" + properties.count + " points, mean velocity " + velocity +
      '.</p><p class="hint">Zoom in to ' + viewer.config.pointZoom + " or more for individual points.</p>");
  }

  GM.Panel = Panel;
  GM.pointPanel = { showPoints: showPoints, showCell: showCell };
})();
