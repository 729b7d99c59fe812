/* The shareable view in the URL hash: dataset, centre, zoom, selected points, the colour range
   and reverse, the velocity and coherence filters, and the analysis (period start and end, the
   reference point, the changes layer's k).
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

  // Filters: velocity min, max and |velocity| min (mm/yr), coherence min (0..1).
  var FILTER_KEYS = ["vmin", "vmax", "amin", "cmin"];

  var ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

  /* {start, end, reference, changes} of the hash, only the keys that are well formed; null if none. */
  function parseAnalysis(state) {
    var analysis = {};
    if (ISO_DATE.test(state.start || "") && ISO_DATE.test(state.end || "")) {
      analysis.start = state.start;
      analysis.end = state.end;
    }
    var reference = Number(state.reference);
    if (Number.isInteger(reference) && reference > 0) analysis.reference = reference;
    var changes = number(state.changes);
    if (changes !== null && changes > 0) analysis.changes = changes;
    return Object.keys(analysis).length ? analysis : null;
  }

  function formatAnalysis(analysis) {
    if (!analysis) return [];
    var parts = [];
    if (analysis.start && analysis.end) parts.push("start=" + analysis.start, "end=" + analysis.end);
    if (analysis.reference) parts.push("reference=" + analysis.reference);
    if (analysis.changes) parts.push("changes=" + analysis.changes);
    return parts;
  }

  function number(text) {
    if (text === undefined || text === "") return null;
    var value = Number(text);
    return isFinite(value) ? value : null;
  }

  /* "#dataset=…&lat=…&lon=…&z=…&points=1,2&range=10&rev=1&vmin=-5&cmin=0.7" ->
     {dataset, view?: {lat, lon, zoom}, points, range?, reversed?, filters?: {vmin, vmax, amin, cmin},
      analysis?: {start?, end?, reference?, changes?}} (a period needs both dates). */
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
    var range = number(state.range);
    if (range !== null && range > 0) result.range = range;
    if (state.rev === "1") result.reversed = true;
    var filters = {};
    FILTER_KEYS.forEach(function (key) {
      var value = number(state[key]);
      if (value !== null) filters[key] = value;
    });
    if (Object.keys(filters).length) result.filters = filters;
    var analysis = parseAnalysis(state);
    if (analysis) result.analysis = analysis;
    return result;
  }

  /* The inverse of parse: centre to 5 decimals (about a metre); unset filters are left out. */
  function format(state) {
    var parts = ["dataset=" + encodeURIComponent(state.dataset || "")];
    if (state.view) {
      parts.push("lat=" + state.view.lat.toFixed(5), "lon=" + state.view.lon.toFixed(5), "z=" + state.view.zoom);
    }
    if (state.points && state.points.length) parts.push("points=" + state.points.join(","));
    if (state.range) parts.push("range=" + state.range);
    if (state.reversed) parts.push("rev=1");
    FILTER_KEYS.forEach(function (key) {
      var value = state.filters ? state.filters[key] : null;
      if (value !== null && value !== undefined && isFinite(value)) parts.push(key + "=" + value);
    });
    parts.push.apply(parts, formatAnalysis(state.analysis));
    return "#" + parts.join("&");
  }

  function read() {
    return parse(window.location.hash);
  }

  /* state: {dataset, points, range, reversed, filters, analysis}; the view is the map's. The older call
     write(map, dataset, points) still works. */
  function write(map, state, points) {
    if (typeof state !== "object" || state === null) state = { dataset: state, points: points };
    var centre = map.getCenter();
    var view = { lat: centre.lat, lon: centre.lng, zoom: map.getZoom() };
    window.history.replaceState(null, "", format(Object.assign({}, state, { view: view })));
  }

  GM.urlState = { read: read, write: write, parse: parse, format: format, FILTER_KEYS: FILTER_KEYS };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.urlState;
})();
