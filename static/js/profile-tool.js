/* The profile line tool: click the vertices of a line on the map, double-click to end; the band
   of the chosen width is drawn on the map and POST /api/profile/ answers the points within it,
   plotted in the panel as velocity against distance along the line, with CSV and PNG of it.
   lineGeometry, metresPerPixel and profileScales are pure (tests/js/profile-tool.test.js). */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 420, HEIGHT = 220, MARGIN = { left: 46, right: 10, top: 10, bottom: 30 };
  var SAME_VERTEX_PX = 4; // the two clicks of the closing double-click are one vertex
  var EARTH_CIRCUMFERENCE_M = 40075016.686;

  /* GeoJSON LineString of map vertices [{lat, lng}] (to 6 decimals), consecutive repeats dropped. */
  function lineGeometry(latlngs) {
    var coordinates = [];
    latlngs.forEach(function (p) {
      var c = [Number(p.lng.toFixed(6)), Number(p.lat.toFixed(6))], last = coordinates[coordinates.length - 1];
      if (!last || last[0] !== c[0] || last[1] !== c[1]) coordinates.push(c);
    });
    return { type: "LineString", coordinates: coordinates };
  }

  /* Ground metres of one screen pixel at a latitude and Web Mercator zoom (256 px tiles). */
  function metresPerPixel(lat, zoom) {
    return EARTH_CIRCUMFERENCE_M * Math.cos(lat * Math.PI / 180) / Math.pow(2, zoom + 8);
  }

  /* x (distance, km when the line is over 2 km) and y (velocity, mm/yr) scales of a profile. */
  function profileScales(points, lengthM) {
    var km = lengthM > 2000, unit = km ? 1000 : 1;
    var velocities = points.map(function (p) { return p.velocity; }).filter(function (v) { return v !== null && v !== undefined; });
    var low = velocities.length ? Math.min.apply(null, velocities) : -1, high = velocities.length ? Math.max.apply(null, velocities) : 1;
    if (high - low < 1) { low -= 0.5; high += 0.5; }
    var xs = GM.seriesChart.niceTicks(0, Math.max(lengthM / unit, 1e-3), 5), ys = GM.seriesChart.niceTicks(low, high, 4);
    return {
      unit: km ? "km" : "m", divisor: unit, xTicks: xs, yTicks: ys,
      x: GM.seriesChart.linearScale([xs.low, xs.high], [MARGIN.left, WIDTH - MARGIN.right]),
      y: GM.seriesChart.linearScale([ys.low, ys.high], [HEIGHT - MARGIN.bottom, MARGIN.top]),
    };
  }

  function node(name, attributes, parent, text) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    if (text !== undefined) element.textContent = text;
    if (parent) parent.appendChild(element);
    return element;
  }

  function plot(container, body, viewer, yLabel) {
    var s = profileScales(body.points, body.length_m);
    var svg = node("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, class: "series-chart profile-chart", "data-count": body.points.length }, container);
    if (s.yTicks.low <= 0 && s.yTicks.high >= 0) node("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: s.y(0), y2: s.y(0), class: "chart-zero" }, svg);
    s.yTicks.ticks.forEach(function (v) { node("text", { x: MARGIN.left - 4, y: s.y(v) + 3, class: "chart-tick", "text-anchor": "end" }, svg, v.toFixed(s.yTicks.decimals)); });
    s.xTicks.ticks.forEach(function (d) {
      node("line", { x1: s.x(d), x2: s.x(d), y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: "chart-grid" }, svg);
      node("text", { x: s.x(d), y: HEIGHT - 16, class: "chart-tick", "text-anchor": "middle" }, svg, d.toFixed(s.xTicks.decimals));
    });
    node("text", { x: (MARGIN.left + WIDTH - MARGIN.right) / 2, y: HEIGHT - 3, class: "chart-label", "text-anchor": "middle" }, svg, "distance along the line, " + s.unit);
    node("text", { x: 10, y: HEIGHT / 2, class: "chart-label", transform: "rotate(-90 10 " + HEIGHT / 2 + ")", "text-anchor": "middle" }, svg, yLabel);
    var tooltip = GM.el("div", { className: "chart-tooltip" }, "Hover a point for its values");
    body.points.forEach(function (p) {
      if (p.velocity === null || p.velocity === undefined) return;
      var dot = node("circle", { cx: s.x(p.distance / s.divisor).toFixed(1), cy: s.y(p.velocity).toFixed(1), r: 2.5,
                                 fill: viewer.legend.colour(p.velocity), stroke: "#333", "stroke-width": 0.4, class: "profile-point" }, svg);
      dot.addEventListener("mouseenter", function () {
        tooltip.textContent = p.pid + ": " + (p.distance / s.divisor).toFixed(s.divisor > 1 ? 2 : 0) + " " + s.unit + ", " +
          p.velocity.toFixed(2) + (p.velocity_std === null || p.velocity_std === undefined ? "" : " ± " + p.velocity_std.toFixed(2)) + " mm/yr, " +
          Math.round(p.offset) + " m off the line";
      });
    });
    container.appendChild(tooltip);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function request(viewer, profile, format) {
    var a = viewer.analysis || {}, body = { dataset: profile.dataset, line: profile.line, width: profile.width };
    ["start", "end", "reference"].forEach(function (key) { if (a[key]) body[key] = a[key]; });
    if (format) body.format = format;
    return fetch(viewer.config.apiUrl + "profile/", { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() } });
  }

  /* A button that POSTs the profile again as `format` and saves the answer. */
  function download(viewer, profile, format, text) {
    var button = GM.el("button", { type: "button", className: "profile-" + format }, text);
    button.addEventListener("click", function () {
      request(viewer, profile, format).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.blob();
      }).then(function (blob) {
        var link = GM.el("a", { href: URL.createObjectURL(blob), download: profile.dataset + "-profile." + format });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      }).catch(function (error) { button.replaceWith(GM.panelMessage("error", format.toUpperCase() + " failed: " + error.message)); });
    });
    return button;
  }

  function errorText(body) {
    return Object.keys(body || {}).map(function (key) { return key + ": " + body[key]; }).join("; ") || "the server refused the profile";
  }

  function showProfile(viewer, profile) {
    viewer.panel.open("Profile", GM.panelMessage("hint", "Asking for the points along the line…"));
    viewer.panel.isProfile = true;
    return request(viewer, profile).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; }, function () { return { ok: false, body: {} }; });
    }).then(function (answer) {
      if (viewer.profile !== profile) return;
      if (!answer.ok) { viewer.panel.open("Profile", GM.panelMessage("error", "Profile: " + errorText(answer.body))); return; }
      var body = answer.body, dataset = GM.pointPanel.currentDataset(viewer);
      var label = dataset.quantity ? dataset.quantity.velocity_label : "velocity (mm/yr)";
      var words = GM.analysis.words(viewer.analysis, label, viewer.referencePoint && viewer.referencePoint.pid);
      viewer.panel.open("Profile (" + (dataset.name || body.dataset) + ")", [
        GM.el("p", { className: "profile-count" }, [GM.el("b", { "data-count": body.count }, String(body.count)), " points within " +
          body.width_m / 2 + " m of a line " + (body.length_m / 1000).toFixed(2) + " km long" + (words.note ? " · " + words.note : "") + "."]),
        GM.el("p", null, [download(viewer, profile, "csv", "CSV"), " ", download(viewer, profile, "png", "PNG")]),
      ]);
      viewer.panel.isProfile = true;
      plot(viewer.panel.chart, body, viewer, label.replace(/\s*\(mm\/yr\)$/, ", mm/yr"));
    });
  }

  function setUp(viewer) {
    var map = viewer.map, button = document.getElementById("profile-draw"), widthInput = document.getElementById("profile-width");
    var vertices = [], preview = null, band = null, drawing = false;
    var bandWeight = function () { return viewer.profile ? viewer.profile.width / metresPerPixel(map.getCenter().lat, map.getZoom()) : 0; };
    var onClick = function (event) {
      var last = vertices[vertices.length - 1];
      if (last && map.latLngToContainerPoint(last).distanceTo(event.containerPoint) < SAME_VERTEX_PX) return;
      vertices.push(event.latlng);
      preview.setLatLngs(vertices);
    };
    var stop = function () {
      drawing = false;
      viewer.drawing = false;
      map.off("click", onClick);
      map.off("dblclick", finish);
      map.getContainer().classList.remove("drawing-profile");
      setTimeout(function () { map.doubleClickZoom.enable(); }, 0);
      button.textContent = "Draw a profile line";
    };
    var finish = function () {
      var line = lineGeometry(vertices);
      stop();
      preview.remove();
      if (line.coordinates.length < 2) return;
      var width = Number(widthInput.value);
      viewer.profile = { dataset: viewer.dataset, line: line, width: width > 0 ? width : 100 };
      if (band) band.remove();
      var latlngs = line.coordinates.map(function (c) { return [c[1], c[0]]; });
      band = L.featureGroup([
        L.polyline(latlngs, { color: "#000", weight: bandWeight(), opacity: 0.18, lineCap: "round", lineJoin: "round", interactive: false, className: "profile-band" }),
        L.polyline(latlngs, { color: "#000", weight: 1.5, dashArray: "5 4", interactive: false, className: "profile-line" }),
      ]).addTo(map);
      showProfile(viewer, viewer.profile);
    };
    map.on("zoomend", function () { if (band) band.getLayers()[0].setStyle({ weight: bandWeight() }); });
    button.addEventListener("click", function () {
      if (drawing) { stop(); preview.remove(); return; }
      drawing = true;
      viewer.drawing = true;
      vertices = [];
      preview = L.polyline([], { color: "#000", weight: 2, interactive: false }).addTo(map);
      map.doubleClickZoom.disable();
      map.on("click", onClick);
      map.on("dblclick", finish);
      map.getContainer().classList.add("drawing-profile");
      button.textContent = "Cancel the line (double-click ends it)";
    });
    var panelClose = viewer.panel.onClose;
    viewer.panel.onClose = function () {
      if (viewer.panel.isProfile && band) { band.remove(); band = null; viewer.profile = null; }
      viewer.panel.isProfile = false;
      if (panelClose) panelClose();
    };
  }

  /* The analysis changed: the profile shown is asked again with it. */
  function refresh(viewer) {
    if (viewer.profile && viewer.panel.isProfile && viewer.profile.dataset === viewer.dataset) showProfile(viewer, viewer.profile);
  }

  GM.profileTool = { setUp: setUp, refresh: refresh, lineGeometry: lineGeometry, metresPerPixel: metresPerPixel, profileScales: profileScales };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.profileTool;
})();
