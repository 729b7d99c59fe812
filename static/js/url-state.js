/* The shareable view in the URL hash: dataset, centre, zoom and selected points. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function read() {
    var state = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair.length === 2 && pair[0]) state[decodeURIComponent(pair[0])] = decodeURIComponent(pair[1]);
    });
    var result = { dataset: state.dataset || null, points: [] };
    if (state.lat && state.lon && state.z) {
      var lat = parseFloat(state.lat), lon = parseFloat(state.lon), zoom = parseInt(state.z, 10);
      if (isFinite(lat) && isFinite(lon) && isFinite(zoom)) result.view = { lat: lat, lon: lon, zoom: zoom };
    }
    if (state.points) {
      result.points = state.points.split(",").map(Number).filter(function (id) { return id > 0; });
    }
    return result;
  }

  function write(map, dataset, points) {
    var centre = map.getCenter();
    var parts = [
      "dataset=" + encodeURIComponent(dataset || ""),
      "lat=" + centre.lat.toFixed(5),
      "lon=" + centre.lng.toFixed(5),
      "z=" + map.getZoom(),
    ];
    if (points && points.length) parts.push("points=" + points.join(","));
    window.history.replaceState(null, "", "#" + parts.join("&"));
  }

  GM.urlState = { read: read, write: write };
})();
