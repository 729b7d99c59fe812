/* Draw a polygon (Leaflet.draw) and show the mean series of the points inside it: the band of
   mean ± std, the velocity of the mean and the spread of the points' velocities, the count, a CSV. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function post(viewer, geometry, query) {
    return fetch(viewer.config.apiUrl + "area-mean/" + (query || ""), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ dataset: viewer.dataset, geometry: geometry }),
    });
  }

  function requestMean(viewer, geometry) {
    return post(viewer, geometry).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.detail || JSON.stringify(body));
        return body;
      });
    });
  }

  function mmPerYear(value) {
    return value === null || value === undefined ? "n/a" : value.toFixed(2);
  }

  /* The CSV of the mean (date, mean_mm, std_mm, count): the same POST with output=csv, saved from a blob. */
  function csvButton(viewer, geometry, slug) {
    var button = GM.el("button", { type: "button", className: "area-csv" }, "CSV of the mean");
    button.addEventListener("click", function () {
      post(viewer, geometry, "?output=csv").then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.blob();
      }).then(function (blob) {
        var link = GM.el("a", { href: URL.createObjectURL(blob), download: slug + "-area-mean.csv" });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      }).catch(function (error) { button.replaceWith(GM.panelMessage("error", "CSV failed: " + error.message)); });
    });
    return button;
  }

  /* The download page with this dataset and the drawn polygon filled in. */
  function downloadLink(geometry, slug, filter) {
    var ring = geometry.coordinates[0].map(function (p) { return p[0].toFixed(6) + " " + p[1].toFixed(6); });
    var query = new URLSearchParams({ dataset: slug, polygon: "POLYGON((" + ring.join(", ") + "))" });
    // The map's filters go along: the download holds the points the user sees.
    var names = { vmin: "velocity_min", vmax: "velocity_max", amin: "abs_velocity_min", cmin: "coherence_min" };
    Object.keys(names).forEach(function (key) {
      if (filter && filter[key] !== null && filter[key] !== undefined && isFinite(filter[key])) query.set(names[key], filter[key]);
    });
    var filtered = Array.from(query.keys()).length > 2;
    return GM.el("a", { className: "area-download", href: "/downloads/?" + query.toString() },
      filtered ? "Download these points (as filtered)" : "Download these points");
  }

  function showMean(viewer, body, geometry) {
    var count = String(body.count);
    var quantity = body.quantity || {};
    var dataset = GM.pointPanel.currentDataset(viewer);
    var parts = [GM.el("p", { className: "area-count" }, ["Mean of ", GM.el("b", { "data-count": count }, count), " points"])];
    if (body.count > 0) {
      parts.push(
        GM.el("p", { className: "area-velocity" }, [
          GM.pointPanel.velocityWords(quantity) + " of the mean series ",
          GM.el("b", { "data-velocity": body.velocity_mm_yr, title: body.velocity_model }, mmPerYear(body.velocity_mm_yr) + " mm/yr"),
          (body.velocity_model || "").indexOf("shorter") >= 0 ? " (straight line: under two years)" : " (model fit)",
          "; the points' own velocities " + mmPerYear(body.points_velocity_mean_mm_yr) + " ± " +
            mmPerYear(body.velocity_std_mm_yr) + " mm/yr (mean ± std).",
        ]),
        GM.panelMessage("hint", "Band: mean ± std across the points at each date. Sign: " + body.sign_convention + "."),
        GM.el("p", null, [csvButton(viewer, geometry, body.dataset), " ", downloadLink(geometry, body.dataset, viewer.filters && viewer.filters.filter)]));
    }
    viewer.panel.open("Area mean (" + (dataset.name || body.dataset) + ")", parts);
    if (body.count > 0) {
      GM.seriesChart.render(viewer.panel.chart, [
        { label: "mean of " + count + " points", note: dataset.name, dates: body.dates, values: body.mean,
          fitted: body.fitted || null, std: body.std },
      ], { yLabel: quantity.displacement_label });
    }
  }

  function setUp(viewer) {
    var drawn = new L.FeatureGroup().addTo(viewer.map);
    var button = document.getElementById("draw-area");
    button.addEventListener("click", function () {
      new L.Draw.Polygon(viewer.map, { shapeOptions: { color: "#222", weight: 2, fill: false } }).enable();
    });
    // While drawing, a click on a point is a vertex: selecting the point would open the panel,
    // resize the map and move the first vertex from under the closing click.
    viewer.map.on(L.Draw.Event.DRAWSTART, function () { viewer.drawing = true; });
    viewer.map.on(L.Draw.Event.DRAWSTOP, function () { viewer.drawing = false; });
    viewer.map.on(L.Draw.Event.CREATED, function (event) {
      drawn.clearLayers();
      drawn.addLayer(event.layer);
      var geometry = event.layer.toGeoJSON().geometry;
      requestMean(viewer, geometry)
        .then(function (body) { showMean(viewer, body, geometry); })
        .catch(function (error) { viewer.panel.open("Area mean", GM.panelMessage("error", error.message)); });
    });
  }

  GM.drawArea = { setUp: setUp, requestMean: requestMean };
})();
