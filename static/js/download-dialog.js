// The download dialog's map: dataset extents for orientation, and drawing the area
// (rectangle -> bbox field, polygon -> WKT field). No base map needed: it works offline.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("download-config").textContent);
  var bboxField = document.getElementById("id_bbox");
  var polygonField = document.getElementById("id_polygon");
  var map = L.map("download-map").setView(config.center, config.zoom);
  if (config.basemap) {
    L.tileLayer(config.basemap, { maxZoom: 18 }).addTo(map);
  }
  config.extents.forEach(function (extent) {
    var bounds = [[extent.bbox[1], extent.bbox[0]], [extent.bbox[3], extent.bbox[2]]];
    L.rectangle(bounds, { color: "#5b6b7c", weight: 1, fill: false, interactive: false })
      .bindTooltip(document.createTextNode(extent.slug)).addTo(map); // a node: a string would be HTML
  });
  var drawn = new L.FeatureGroup().addTo(map);
  map.addControl(new L.Control.Draw({
    edit: { featureGroup: drawn, edit: false },
    draw: { polyline: false, circle: false, marker: false, circlemarker: false,
            polygon: { allowIntersection: false }, rectangle: {} }
  }));

  function ring(latlngs) {
    var points = latlngs.map(function (p) { return p.lng.toFixed(6) + " " + p.lat.toFixed(6); });
    points.push(points[0]);
    return "POLYGON((" + points.join(", ") + "))";
  }

  map.on(L.Draw.Event.CREATED, function (event) {
    drawn.clearLayers();
    drawn.addLayer(event.layer);
    if (event.layerType === "rectangle") {
      var b = event.layer.getBounds();
      bboxField.value = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(",");
      polygonField.value = "";
    } else {
      polygonField.value = ring(event.layer.getLatLngs()[0]);
      bboxField.value = "";
    }
  });
  document.getElementById("download-map").dataset.ready = "true";
})();
