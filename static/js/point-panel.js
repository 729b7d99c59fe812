/* The side panel: a point's series chart, shift-click comparison and download links.
   Everything shown is built as DOM nodes with text content: pids, search text, counts and
   server messages come from outside and never pass through innerHTML. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  /* Text made safe for HTML markup and attribute values, for the places that need a string. */
  GM.escapeHtml = function (value) {
    return String(value).replace(/[&<>"']/g, function (character) { return ENTITIES[character]; });
  };

  /* GM.el("p", {className: "hint"}, ["text", node, ...]): an element; strings become text nodes,
     null and undefined children and attributes are skipped; attributes go through setAttribute. */
  GM.el = function (tag, attributes, children) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (attributes[key] === null || attributes[key] === undefined) return;
      if (key === "className") element.className = attributes[key];
      else element.setAttribute(key, attributes[key]);
    });
    [].concat(children === undefined ? [] : children).forEach(function (child) {
      if (child === null || child === undefined) return;
      element.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    });
    return element;
  };
  var el = GM.el;

  function Panel(element) {
    this.element = element;
    this.title = element.querySelector(".panel-title");
    this.body = element.querySelector(".panel-body");
    this.chart = element.querySelector(".panel-chart");
    var self = this;
    element.querySelector(".panel-close").addEventListener("click", function () { self.close(); });
  }

  /* title: text; content: a node or a list of nodes (never an HTML string). */
  Panel.prototype.open = function (title, content) {
    this.title.textContent = title;
    this.body.replaceChildren.apply(this.body, [].concat(content || []));
    this.chart.replaceChildren();
    this.element.hidden = false;
    if (this.onResize) this.onResize();
  };

  Panel.prototype.close = function () {
    this.element.hidden = true;
    if (this.onClose) this.onClose();
    if (this.onResize) this.onResize();
  };

  /* A message paragraph, e.g. GM.panelMessage("error", "No point ", text, " here."). */
  GM.panelMessage = function (className) {
    return el("p", { className: className }, [].slice.call(arguments, 1));
  };

  /* The list item of one point: pid, velocity and its PNG / SVG / CSV links. */
  function pointLinks(apiUrl, point) {
    var base = apiUrl + "points/" + encodeURIComponent(point.id) + "/";
    var link = function (file, text) { return el("a", { href: base + file }, text); };
    return el("li", null, [
      el("b", null, String(point.pid)), " ",
      point.velocity === null || point.velocity === undefined ? "" : point.velocity.toFixed(2) + " mm/yr",
      " · ", link("plot.png", "PNG"), " · ", link("plot.svg", "SVG"), " · ", link("series.csv", "CSV"),
    ]);
  }

  function asSeries(point) {
    var model = point.model;
    return { label: point.pid, dates: point.dates, values: point.displacements,
             fitted: model ? model.fitted : null, std: model ? model.residual_std_mm : null };
  }

  /* Show the given point ids (several when comparing). */
  function showPoints(viewer, ids) {
    var requests = ids.map(function (id) {
      return fetch(viewer.config.apiUrl + "points/" + encodeURIComponent(id) + "/", { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; });
    });
    return Promise.all(requests).then(function (points) {
      points = points.filter(Boolean);
      if (!points.length) {
        viewer.panel.open("Point", GM.panelMessage("error", "Point not found or not visible to you."));
        return;
      }
      var list = el("ul", { className: "point-list" }, points.map(function (point) { return pointLinks(viewer.config.apiUrl, point); }));
      var hint = points.length === 1 ? GM.panelMessage("hint", "Shift-click another point to compare.") : null;
      viewer.panel.open(points.length === 1 ? "Point " + points[0].pid : "Comparing " + points.length + " points",
        hint ? [list, hint] : [list]);
      GM.seriesChart.render(viewer.panel.chart, points.map(asSeries));
    });
  }

  function showCell(viewer, properties) {
    var velocity = properties.velocity === undefined || properties.velocity === null ? "n/a" : properties.velocity.toFixed(2) + " mm/yr";
    viewer.panel.open("Cell", [
      GM.panelMessage(null, String(properties.count) + " points, mean velocity " + velocity + "."),
      GM.panelMessage("hint", "Zoom in to " + viewer.config.pointZoom + " or more for individual points."),
    ]);
  }

  GM.Panel = Panel;
  GM.pointPanel = { showPoints: showPoints, showCell: showCell, pointLinks: pointLinks };
  if (typeof module !== "undefined" && module.exports) {
    module.exports = { escapeHtml: GM.escapeHtml, el: GM.el, pointLinks: pointLinks, Panel: Panel };
  }
})();
