/* The shareable view in the URL hash: dataset, centre, zoom and selected points.
   parse and format are pure (tests/js/url-state.test.js); read and write touch the page. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});

  function decode(text) {
    try {
      return decodeURIComponent(text);
    } catch {
      return null; // a malformed escape ("%E0%A4%A") in a pasted link: that part is dropped
    }
  }

  /* "#dataset=…&lat=…&lon=…&z=…&points=1,2" -> {dataset, view?: {lat, lon, zoom}, points}. */
  function parse(hash) {
    var state = {};
    String(hash || "").replace(/^#/, "").split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair.length !== 2 || !pair[0]) return;
      var key = decode(pair[0]), value = decode(pair[1]);
      if (key !== null && value !== null) state[key] = value;
    });
    var result = { dataset: state.dataset || null, points: [] };
    if (state.lat && state.lon && state.z) {
      var lat = parseFloat(state.lat), lon = parseFloat(state.lon), zoom = parseInt(state.z, 10);
      if (isFinite(lat) && isFinite(lon) && isFinite(zoom)) result.view = { lat: lat, lon: lon, zoom: zoom };
    }
    if (state.points) {
      result.points = state.points.split(",").map(Number).filter(function (id) { return Number.isInteger(id) && id > 0; });
    }
    return result;
  }

  /* The inverse of parse: centre to 5 decimals (about a metre). */
  function format(state) {
    var parts = ["dataset=" + encodeURIComponent(state.dataset || "")];
    if (state.view) {
      parts.push("lat=" + state.view.lat.toFixed(5), "lon=" + state.view.lon.toFixed(5), "z=" + state.view.zoom);
    }
    if (state.points && state.points.length) parts.push("points=" + state.points.join(","));
    return "#" + parts.join("&");
  }

  function read() {
    return parse(window.location.hash);
  }

  function write(map, dataset, points) {
    var centre = map.getCenter();
    var view = { lat: centre.lat, lon: centre.lng, zoom: map.getZoom() };
    window.history.replaceState(null, "", format({ dataset: dataset, view: view, points: points }));
  }

  GM.urlState = { read: read, write: write, parse: parse, format: format };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.urlState;
})();
