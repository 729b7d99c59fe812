/* The GNSS station and corner-reflector layers, their popups and toggles, and the key of the symbols.
   GNSS stations are fetched for the map's view (a network may hold thousands), again after each
   move while the overlay is on. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});
  var GNSS_STYLE = { radius: 7, color: "#000", weight: 2, fillColor: "#ffd400", fillOpacity: 1 };
  var REFLECTOR_STYLE = { radius: 7, color: "#000", weight: 2, fillColor: "#ff00aa", fillOpacity: 1 };
  var REFETCH_DELAY_MS = 250;

  function number(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
  }

  function withStd(value, std) {
    return number(value, 2) + (std === null || std === undefined ? "" : " ± " + number(std, 2));
  }

  /* Popups are DOM nodes (Leaflet would set a string as innerHTML): codes and networks are data. */
  function gnssPopup(properties) {
    var frame = properties.reference_frame ? properties.reference_frame : "frame not recorded";
    return GM.el("div", { className: "gnss-popup" }, [
      GM.el("b", null, "GNSS " + properties.code), " (" + properties.network + ", " + frame + ")", GM.el("br"),
      "east " + withStd(properties.velocity_east, properties.velocity_east_std) + " mm/yr", GM.el("br"),
      "north " + withStd(properties.velocity_north, properties.velocity_north_std) + " mm/yr", GM.el("br"),
      "up " + withStd(properties.velocity_up, properties.velocity_up_std) + " mm/yr", GM.el("br"),
      "height " + (properties.height === null || properties.height === undefined ? "n/a" : number(properties.height, 1) + " m"),
      GM.el("br"),
      GM.el("i", null, properties.series ? "series stored" : "velocities only: no series stored"),
    ]);
  }

  function reflectorPopup(properties) {
    return GM.el("div", null, [
      GM.el("b", null, "Corner reflector " + properties.code), GM.el("br"),
      "leg " + number(properties.leg_length, 2) + " m, installed " + (properties.install_date || "n/a"),
    ]);
  }

  function geoJsonLayer(style, popup) {
    return L.geoJSON(null, {
      pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, style); },
      onEachFeature: function (feature, marker) { marker.bindPopup(popup(feature.properties)); },
    });
  }

  /* "w,s,e,n" of the map's view, clamped to valid degrees. */
  function viewBox(map) {
    var bounds = map.getBounds();
    var clamp = function (value, limit) { return Math.max(-limit, Math.min(limit, value)); };
    return [clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90), clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90)]
      .map(function (value) { return value.toFixed(5); }).join(",");
  }

  /* The GNSS layer, refilled with the stations in view; viewer.gnssFetches counts requests. */
  function gnssLayer(viewer) {
    var layer = geoJsonLayer(GNSS_STYLE, gnssPopup), timer = null, latest = 0;
    viewer.gnssFetches = [];
    var refetch = function () {
      var bbox = viewBox(viewer.map), ticket = ++latest;
      fetch(viewer.config.apiUrl + "gnss-stations/?bbox=" + bbox, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (collection) {
          if (ticket !== latest || !viewer.map.hasLayer(layer)) return; // a newer view, or switched off
          layer.clearLayers();
          layer.addData(collection);
          viewer.gnssFetches.push({ bbox: bbox, count: collection.features.length });
        });
    };
    var later = function () {
      clearTimeout(timer);
      timer = setTimeout(refetch, REFETCH_DELAY_MS);
    };
    layer.on("add", function () { refetch(); viewer.map.on("moveend", later); });
    layer.on("remove", function () { clearTimeout(timer); viewer.map.off("moveend", later); });
    return layer;
  }

  function reflectorLayer(viewer) {
    var layer = geoJsonLayer(REFLECTOR_STYLE, reflectorPopup);
    fetch(viewer.config.apiUrl + "reflectors/", { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (collection) { layer.addData(collection); });
    return layer;
  }

  function swatch(style, round) {
    var mark = GM.el("span", { className: "key-swatch" + (round ? " key-round" : "") });
    mark.style.background = style.fillColor;
    mark.style.border = style.weight ? style.weight + "px solid " + style.color : "none";
    return mark;
  }

  /* The key of the map's symbols, in the controls beside the overlay toggles (on the map it
     would cover points and the first clicks of a drawn area). */
  function fillKey(element, pointZoom) {
    var rows = [
      [swatch(GNSS_STYLE, true), "GNSS station"],
      [swatch(REFLECTOR_STYLE, true), "corner reflector"],
      [swatch({ fillColor: "#74add1", weight: 1, color: "#333" }, true), "point (colour: velocity)"],
      [swatch({ fillColor: "#74add1", weight: 0 }, true), "cell: mean of its points (below zoom " + pointZoom + ")"],
    ];
    element.replaceChildren.apply(element, rows.map(function (row) { return GM.el("div", null, row); }));
  }

  function addOverlays(viewer) {
    viewer.gnssLayer = gnssLayer(viewer);
    viewer.reflectorLayer = reflectorLayer(viewer);
    fillKey(document.getElementById("map-key"), viewer.config.pointZoom);
    [["show-gnss", viewer.gnssLayer], ["show-reflectors", viewer.reflectorLayer]].forEach(function (pair) {
      var box = document.getElementById(pair[0]);
      var toggle = function () { if (box.checked) pair[1].addTo(viewer.map); else pair[1].remove(); };
      box.addEventListener("change", toggle);
      toggle();
    });
  }

  GM.overlays = { addOverlays: addOverlays, gnssPopup: gnssPopup, viewBox: viewBox };
})();
