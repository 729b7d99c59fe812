/* Offline outlines base map, GNSS and reflector layers, and coordinate / pid search. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function addBaseMap(map, config) {
    if (config.basemapUrl) {
      L.tileLayer(config.basemapUrl, { maxZoom: 19, attribution: "Base map" }).addTo(map);
      return;
    }
    // Offline: country and coast outlines shipped in static (Natural Earth via world-atlas).
    map.createPane("outlines").style.zIndex = 150;
    fetch(config.outlinesUrl).then(function (response) { return response.json(); }).then(function (topology) {
      var countries = topojson.feature(topology, topology.objects.countries);
      L.geoJSON(countries, {
        pane: "outlines", interactive: false,
        style: { color: "#777", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 },
      }).addTo(map);
    });
  }

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

  /* "43.71, -1.05" centres the map; anything else is a point id in the current dataset. */
  function search(viewer, text) {
    var match = text.trim().match(/^(-?\d+(?:\.\d+)?)\s*[,\s]\s*(-?\d+(?:\.\d+)?)$/);
    if (match) {
      viewer.map.setView([parseFloat(match[1]), parseFloat(match[2])], Math.max(viewer.map.getZoom(), viewer.config.pointZoom));
      return Promise.resolve(true);
    }
    var url = viewer.config.apiUrl + "datasets/" + encodeURIComponent(viewer.dataset) + "/points/?pid=" + encodeURIComponent(text.trim());
    return fetch(url, { credentials: "same-origin" }).then(function (response) { return response.ok ? response.json() : { points: [] }; })
      .then(function (body) {
        if (!body.points.length) { viewer.panel.open("Search", GM.panelMessage("error", "No point " + text + " here.")); return false; }
        var point = body.points[0];
        viewer.map.setView([point.lat, point.lon], Math.max(viewer.map.getZoom(), viewer.config.pointZoom));
        viewer.select([point.id], false);
        return true;
      });
  }

  function setUpSearch(viewer) {
    document.getElementById("search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      search(viewer, document.getElementById("search-text").value);
    });
  }

  GM.overlays = { addBaseMap: addBaseMap, addOverlays: addOverlays, setUpSearch: setUpSearch, search: search };
})();
