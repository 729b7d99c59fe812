/* The GNSS station and corner-reflector layers, their popups and toggles. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function number(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
  }

  /* Popups are DOM nodes (Leaflet would set a string as innerHTML): codes and networks are data. */
  function gnssPopup(properties) {
    return GM.el("div", null, [
      GM.el("b", null, "GNSS " + properties.code), " (" + properties.network + ")", GM.el("br"),
      "east " + number(properties.velocity_east, 2) + ", north " + number(properties.velocity_north, 2) +
        ", up " + number(properties.velocity_up, 2) + " mm/yr",
    ]);
  }

  function reflectorPopup(properties) {
    return GM.el("div", null, [
      GM.el("b", null, "Corner reflector " + properties.code), GM.el("br"),
      "leg " + number(properties.leg_length, 2) + " m, installed " + (properties.install_date || "n/a"),
    ]);
  }

  function pointLayer(url, style, popup) {
    var layer = L.geoJSON(null, {
      pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, style); },
      onEachFeature: function (feature, marker) { marker.bindPopup(popup(feature.properties)); },
    });
    fetch(url, { credentials: "same-origin" }).then(function (response) { return response.json(); })
      .then(function (collection) { layer.addData(collection); });
    return layer;
  }

  function addOverlays(viewer) {
    var api = viewer.config.apiUrl;
    viewer.gnssLayer = pointLayer(api + "gnss-stations/", { radius: 7, color: "#000", weight: 2, fillColor: "#ffd400", fillOpacity: 1 }, gnssPopup);
    viewer.reflectorLayer = pointLayer(api + "reflectors/", { radius: 7, color: "#000", weight: 2, fillColor: "#ff00aa", fillOpacity: 1 }, reflectorPopup);
    [["show-gnss", viewer.gnssLayer], ["show-reflectors", viewer.reflectorLayer]].forEach(function (pair) {
      var box = document.getElementById(pair[0]);
      var toggle = function () { if (box.checked) pair[1].addTo(viewer.map); else pair[1].remove(); };
      box.addEventListener("change", toggle);
      toggle();
    });
  }

  GM.overlays = { addOverlays: addOverlays };
})();
