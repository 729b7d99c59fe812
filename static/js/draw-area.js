/* Draw a polygon (Leaflet.draw) and show the mean series of the points inside it. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function requestMean(viewer, geometry) {
    return fetch(viewer.config.apiUrl + "area-mean/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ dataset: viewer.dataset, geometry: geometry }),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.detail || JSON.stringify(body));
        return body;
      });
    });
  }

  function showMean(viewer, body) {
    var count = String(body.count);
    viewer.panel.open("Area mean (" + body.dataset + ")",
      GM.el("p", { className: "area-count" }, ["Mean of ", GM.el("b", { "data-count": count }, count), " points"]));
    if (body.count > 0) {
      GM.seriesChart.render(viewer.panel.chart, [
        { label: "mean", dates: body.dates, values: body.mean, fitted: null, std: null },
      ]);
    }
  }

  function setUp(viewer) {
    var drawn = new L.FeatureGroup().addTo(viewer.map);
    var button = document.getElementById("draw-area");
    button.addEventListener("click", function () {
      new L.Draw.Polygon(viewer.map, { shapeOptions: { color: "#222", weight: 2, fill: false } }).enable();
    });
    viewer.map.on(L.Draw.Event.CREATED, function (event) {
      drawn.clearLayers();
      drawn.addLayer(event.layer);
      var geometry = event.layer.toGeoJSON().geometry;
      requestMean(viewer, geometry)
        .then(function (body) { showMean(viewer, body); })
        .catch(function (error) { viewer.panel.open("Area mean", GM.panelMessage("error", error.message)); });
    });
  }

  GM.drawArea = { setUp: setUp, requestMean: requestMean };
})();
