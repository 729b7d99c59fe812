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
    this.isProfile = false; // profile-tool.js sets it again for its own panels
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

  /* "Vertical velocity" from a quantity's "Vertical velocity (mm/yr)"; in a sentence
     (`inline`) "vertical velocity", but "LOS ascending velocity" keeps its capitals. */
  function velocityWords(quantity, inline) {
    var words = quantity ? quantity.velocity_label.replace(/\s*\(mm\/yr\)$/, "") : "";
    return inline && /^[A-Z][a-z]/.test(words) ? words.charAt(0).toLowerCase() + words.slice(1) : words;
  }

  /* The list item of one point: pid, velocity (named by the quantity when given) and its
     PNG / SVG / CSV links, which carry `query` (the period and reference, "?start=…"). */
  function pointLinks(apiUrl, point, quantity, query) {
    var base = apiUrl + "points/" + encodeURIComponent(point.id) + "/";
    var link = function (file, text) { return el("a", { href: base + file + (query || "") }, text); };
    var known = point.velocity !== null && point.velocity !== undefined;
    return el("li", null, [
      el("b", null, String(point.pid)), " ",
      known && quantity ? velocityWords(quantity, true) + " " : null,
      known ? point.velocity.toFixed(2) + " mm/yr" : "",
      " · ", link("plot.png", "PNG"), " · ", link("plot.svg", "SVG"), " · ", link("series.csv", "CSV"),
    ]);
  }

  function asSeries(point, datasetName) {
    var model = point.model;
    return { label: point.pid, note: datasetName, dates: point.dates, values: point.displacements,
             fitted: model ? model.fitted : null, std: model ? model.residual_std_mm : null };
  }

  function withStd(value, std) {
    if (value === null || value === undefined) return "n/a";
    return value.toFixed(2) + (std === null || std === undefined ? "" : " ± " + std.toFixed(2)) + " mm/yr";
  }

  /* The period's velocity and the reference of a point detail, and the reference buttons. */
  function analysisLines(viewer, point) {
    var lines = [];
    if (point.period) {
      lines.push(el("p", { className: "point-period" }, ["Period " + point.period.start + " – " + point.period.end + ": ",
        el("b", { "data-velocity": point.period.velocity }, withStd(point.period.velocity, point.period.velocity_std)),
        " (" + point.period.count + " acquisitions)"]));
    }
    if (point.reference) {
      // The server names the reference by id; the map's words use its pid when it is known.
      var known = viewer.referencePoint && viewer.referencePoint.id === point.reference.point_id;
      var reference = point.reference, relative = reference.relative_velocity;
      var words = "Relative to " + (known ? "point " + viewer.referencePoint.pid : reference.label) +
        (reference.velocity === null || reference.velocity === undefined ? "" : " (" + withStd(reference.velocity) + ")");
      // With a period, the period line above already gives the velocity relative to the reference.
      var shown = relative !== null && relative !== undefined && !point.period;
      lines.push(el("p", { className: "point-reference" }, shown
        ? [words + ": velocity ", el("b", { "data-velocity": relative }, withStd(relative)), "."] : [words + "."]));
    }
    var isReference = viewer.analysis && viewer.analysis.reference === point.id;
    var button = el("button", { type: "button", className: isReference ? "reference-remove" : "reference-set" },
      isReference ? "Remove reference (this point)" : "Set as reference");
    button.addEventListener("click", function () { viewer.setAnalysis({ reference: isReference ? null : point.id }); });
    lines.push(el("p", null, button));
    return lines;
  }

  function currentDataset(viewer) {
    return viewer.config.datasets.filter(function (dataset) { return dataset.slug === viewer.dataset; })[0] || {};
  }

  /* Show the given point ids (several when comparing); remembers them in viewer.selectedPoints. */
  function showPoints(viewer, ids) {
    var dataset = currentDataset(viewer);
    var query = GM.analysis.query(viewer.analysis, ["start", "end", "reference"]);
    var requests = ids.map(function (id) {
      return fetch(viewer.config.apiUrl + "points/" + encodeURIComponent(id) + "/" + query, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; });
    });
    return Promise.all(requests).then(function (points) {
      points = points.filter(Boolean);
      if (viewer.dataset !== dataset.slug) return; // the layer changed while these were on their way
      viewer.selectedPoints = points;
      if (!points.length) {
        viewer.panel.open("Point", GM.panelMessage("error", "Point not found or not visible to you."));
        return;
      }
      var list = el("ul", { className: "point-list" }, points.map(function (point) { return pointLinks(viewer.config.apiUrl, point, dataset.quantity, query); }));
      if (points.length > 1) {
        viewer.panel.open("Comparing " + points.length + " points", [list]);
        GM.seriesChart.render(viewer.panel.chart, points.map(function (point) { return asSeries(point, dataset.name); }),
          { yLabel: dataset.quantity && dataset.quantity.displacement_label });
        return;
      }
      var hint = GM.panelMessage("hint", "Shift-click another point to compare.");
      viewer.panel.open("Point " + points[0].pid, [list].concat(analysisLines(viewer, points[0]), [hint]));
      GM.chartTools.show(viewer, points[0], asSeries(points[0], dataset.name), dataset.quantity);
    });
  }

  function showCell(viewer, properties) {
    var quantity = currentDataset(viewer).quantity;
    var velocity = properties.velocity === undefined || properties.velocity === null ? "n/a" : properties.velocity.toFixed(2) + " mm/yr";
    var words = quantity ? velocityWords(quantity, true) : "velocity";
    viewer.panel.open("Cell", [
      GM.panelMessage(null, String(properties.count) + " points, mean " + words + " " + velocity + "."),
      GM.panelMessage("hint", "Zoom in to " + viewer.config.pointZoom + " or more for individual points."),
    ]);
  }

  var NEARBY_M = 20;
  var METRES_PER_DEGREE = 111320;

  /* Distance in metres between two {lon, lat} a few hundred metres apart at most (equirectangular). */
  function metresBetween(a, b) {
    var x = (b.lon - a.lon) * Math.cos(((a.lat + b.lat) / 2) * Math.PI / 180), y = b.lat - a.lat;
    return Math.sqrt(x * x + y * y) * METRES_PER_DEGREE;
  }

  /* "w,s,e,n" of a square of ± metres around a place. */
  function boxAround(place, metres) {
    var dLat = metres / METRES_PER_DEGREE, dLon = dLat / Math.cos(place.lat * Math.PI / 180);
    return [place.lon - dLon, place.lat - dLat, place.lon + dLon, place.lat + dLat].map(function (v) { return v.toFixed(6); }).join(",");
  }

  /* The nearest of `points` ({id, pid, lon, lat}) within NEARBY_M of `place`, with its distance. */
  function nearest(place, points) {
    var best = null;
    points.forEach(function (point) {
      var distance = metresBetween(place, point);
      if (distance <= NEARBY_M && (!best || distance < best.distance)) best = { point: point, distance: distance };
    });
    return best;
  }

  /* After a layer switch: `old` (a point of the previous layer, with lon and lat) is not of this
     layer. Offers the nearest point of this layer within NEARBY_M, never selects it unasked. */
  function offerNearby(viewer, old, oldDatasetName) {
    var slug = viewer.dataset;
    var url = viewer.config.apiUrl + "datasets/" + encodeURIComponent(slug) + "/points/?in_bbox=" + boxAround(old, NEARBY_M);
    var intro = GM.panelMessage("hint", "Point ", el("b", null, String(old.pid)), " is of " + oldDatasetName + ", not of this layer.");
    viewer.panel.open("Point " + old.pid + " (previous layer)", [intro, GM.panelMessage("hint", "Looking for a point of this layer nearby…")]);
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { points: [], refused: response.status }; })
      .then(function (body) {
        if (viewer.dataset !== slug || viewer.selected.length) return; // moved on meanwhile
        var found = nearest(old, body.points || []);
        if (!found) {
          var why = body.refused === 403 ? "This layer shows you cells only, no points."
            : "No point of this layer within " + NEARBY_M + " m.";
          viewer.panel.open("Point " + old.pid + " (previous layer)", [intro, GM.panelMessage("nearby-none", why)]);
          return;
        }
        var button = el("button", { type: "button", className: "nearby-point", "data-point-id": found.point.id },
          "Point " + found.point.pid + " of this layer is " + Math.round(found.distance) + " m away: show it");
        button.addEventListener("click", function () { viewer.select([found.point.id], false); });
        viewer.panel.open("Point " + old.pid + " (previous layer)", [intro, button]);
      });
  }

  GM.Panel = Panel;
  GM.pointPanel = { showPoints: showPoints, showCell: showCell, pointLinks: pointLinks, velocityWords: velocityWords,
                    currentDataset: currentDataset, offerNearby: offerNearby, NEARBY_M: NEARBY_M };
  if (typeof module !== "undefined" && module.exports) {
    module.exports = { escapeHtml: GM.escapeHtml, el: GM.el, pointLinks: pointLinks, velocityWords: velocityWords, Panel: Panel,
                       metresBetween: metresBetween, boxAround: boxAround, nearest: nearest };
  }
})();
