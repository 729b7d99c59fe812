/* The download page: the chosen dataset on the shared base map (its extent and its points or
   cells as vector tiles), the area drawn or typed (rectangle -> bbox, polygon -> WKT), the
   count and size estimate asked as the area changes, a background export's progress polled
   from the job API. Text from the server goes in as text nodes (GM.el), never as HTML.
   The pure helpers at the top are unit-tested in tests/js/download-dialog.test.js. */
(function () {
  "use strict";
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});

  /* 1234567 -> "1.2 MB" (decimal units, as file managers show them). */
  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return "—";
    var units = ["B", "kB", "MB", "GB", "TB"];
    var value = bytes, unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return (unit === 0 ? String(Math.round(value)) : value.toFixed(value < 10 ? 1 : 0)) + " " + units[unit];
  }

  /* "MINLON,MINLAT,MAXLON,MAXLAT" -> [[south, west], [north, east]] for Leaflet, or null. */
  function parseBbox(text) {
    var parts = String(text || "").split(",").map(function (part) { return part.trim(); });
    if (parts.length !== 4 || parts.some(function (part) { return part === ""; })) return null;
    var v = parts.map(Number);
    if (v.some(function (n) { return !isFinite(n); }) || v[0] >= v[2] || v[1] >= v[3]) return null;
    if (v[1] < -90 || v[3] > 90 || v[0] < -180 || v[2] > 180) return null;
    return [[v[1], v[0]], [v[3], v[2]]];
  }

  /* Leaflet LatLngs ({lat, lng}) of one ring -> a closed WKT POLYGON. */
  function ringWkt(latlngs) {
    var points = latlngs.map(function (p) { return p.lng.toFixed(6) + " " + p.lat.toFixed(6); });
    points.push(points[0]);
    return "POLYGON((" + points.join(", ") + "))";
  }

  /* "POLYGON((x y, x y, ...))" (one ring, as ringWkt writes and the viewer links) -> Leaflet
     [[lat, lng], ...] without the closing point, or null. */
  function parsePolygon(text) {
    var match = String(text || "").trim().match(/^POLYGON\s*\(\(([^()]+)\)\)$/i);
    if (!match) return null;
    var ring = match[1].split(",").map(function (pair) {
      var xy = pair.trim().split(/\s+/).map(Number);
      return xy.length === 2 && xy.every(isFinite) ? [xy[1], xy[0]] : null;
    });
    if (ring.length < 4 || ring.some(function (point) { return point === null; })) return null;
    return ring.slice(0, -1);
  }

  /* The line under a job's progress bar, from the job API's summary. */
  function progressText(job) {
    var percent = Math.round((job.progress || 0) * 100) + " %";
    if (job.state === "failed") return "Stopped at " + percent;
    if (job.state === "queued") return "Waiting for a worker…";
    var written = job.points_written !== null && job.points_written !== undefined ? job.points_written : null;
    var detail = job.message || (written !== null ? "written " + written.toLocaleString("en") + " points" : "");
    return percent + (detail ? " · " + detail : "");
  }

  GM.downloadDialog = { formatBytes: formatBytes, parseBbox: parseBbox, ringWkt: ringWkt, parsePolygon: parsePolygon,
                        progressText: progressText };
  if (typeof module !== "undefined" && module.exports) {
    module.exports = GM.downloadDialog;
    return;
  }
  if (!document.getElementById("download-config")) return; // the job page uses the helpers only

  var el = GM.el;
  var config = JSON.parse(document.getElementById("download-config").textContent);
  var form = document.getElementById("download-form");
  var datasetField = document.getElementById("id_dataset");
  var formatField = document.getElementById("id_format");
  var bboxField = document.getElementById("id_bbox");
  var polygonField = document.getElementById("id_polygon");
  var signNote = document.getElementById("sign-note");
  var estimateBox = document.getElementById("estimate");
  var jobBox = document.getElementById("job-progress-box");
  var mapElement = document.getElementById("download-map");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  var map = L.map(mapElement).setView(config.center, config.zoom);
  GM.downloadDialog.map = map; // for the browser tests
  GM.basemap.add(map, config.basemap);
  var state = { dataset: null, extent: null, tiles: null, estimate: null, asked: 0, timer: null };
  var drawn = new L.FeatureGroup().addTo(map);
  map.addControl(new L.Control.Draw({
    edit: { featureGroup: drawn, edit: false, remove: false },
    draw: { polyline: false, circle: false, marker: false, circlemarker: false,
            polygon: { allowIntersection: false }, rectangle: {} }
  }));

  function datasetOf(slug) {
    return config.datasets.filter(function (item) { return item.slug === slug; })[0] || null;
  }

  function tileStyle(properties) {
    var isCell = properties.count !== undefined;
    var colour = GM.colourScale.colourFor(properties.velocity, 10, false);
    return { radius: isCell ? 3 : 2.5, fill: true, fillColor: colour, fillOpacity: 0.85, stroke: false };
  }

  function showDataset(slug) {
    var dataset = datasetOf(slug);
    state.dataset = dataset;
    if (state.extent) map.removeLayer(state.extent);
    if (state.tiles) map.removeLayer(state.tiles);
    state.extent = state.tiles = null;
    signNote.replaceChildren(dataset ? "Sign: " + dataset.sign_convention + "." : "");
    if (!dataset) return;
    state.tiles = new GM.PointTiles(config.tileUrl.replace("{slug}", encodeURIComponent(slug)), {
      interactive: false, maxNativeZoom: 18,
      vectorTileLayerStyles: { points: tileStyle, cells: tileStyle },
      fetchOptions: { credentials: "same-origin" },
    }).addTo(map);
    if (dataset.bbox) {
      var bounds = [[dataset.bbox[1], dataset.bbox[0]], [dataset.bbox[3], dataset.bbox[2]]];
      state.extent = L.rectangle(bounds, { color: "#14283d", weight: 1.5, dashArray: "4 3", fill: false, interactive: false })
        .bindTooltip(document.createTextNode(dataset.name)).addTo(map); // a node: a string would be HTML
      map.fitBounds(bounds, { padding: [20, 20] });
    }
    mapElement.dataset.dataset = slug;
  }

  /* The typed bbox, drawn as the rectangle would be; a polygon in the field (drawn here, or
     brought from the viewer's area link) wins. */
  function drawTypedBbox() {
    var ring = parsePolygon(polygonField.value);
    if (polygonField.value.trim()) {
      if (ring && !drawn.getLayers().length) {
        var shape = L.polygon(ring, { color: "#1f5f99", weight: 2 });
        drawn.addLayer(shape);
        map.fitBounds(shape.getBounds(), { padding: [30, 30] });
      }
      return;
    }
    var bounds = parseBbox(bboxField.value);
    drawn.clearLayers();
    if (bounds) drawn.addLayer(L.rectangle(bounds, { color: "#1f5f99", weight: 2 }));
  }

  var FILTER_NAMES = ["velocity_min", "velocity_max", "abs_velocity_min", "coherence_min"];

  /* The filters typed or brought from the map, by name (empty ones left out). */
  function filters() {
    var chosen = {};
    FILTER_NAMES.forEach(function (name) {
      var field = document.getElementById("id_" + name);
      if (field && field.value.trim()) chosen[name] = field.value.trim();
    });
    return chosen;
  }

  function area() {
    var polygon = polygonField.value.trim();
    if (polygon) return { polygon: polygon };
    var bbox = bboxField.value.trim();
    return bbox ? { bbox: bbox } : null;
  }

  function showEstimate(nodes, kind) {
    estimateBox.replaceChildren.apply(estimateBox, [].concat(nodes));
    estimateBox.className = "estimate " + (kind || "");
  }

  function renderEstimate(body) {
    state.estimate = body;
    var chosen = formatField.value;
    var rows = Object.keys(body.bytes).filter(function (name) { return body.bytes[name] !== null; }).map(function (name) {
      var option = formatField.querySelector("option[value='" + name + "']");
      return el("tr", { className: name === chosen ? "chosen" : null, "data-format": name }, [
        el("td", null, option ? option.textContent : name),
        el("td", { className: "size" }, "≈ " + formatBytes(body.bytes[name])),
      ]);
    });
    showEstimate([
      el("p", null, [el("b", { id: "estimate-count", "data-count": body.point_count }, body.point_count.toLocaleString("en")),
        " points in the area", body.filters_text ? el("span", { id: "estimate-filters" }, " with " + body.filters_text) : null]),
      el("table", { className: "sizes" }, el("tbody", null, rows)),
      el("p", { id: "estimate-mode", className: "mode " + body.mode, "data-mode": body.mode }, body.message),
    ], body.mode === "too-large" || body.mode === "daily-limit" ? "refused" : "ready");
    document.getElementById("download-submit").disabled =
      body.mode === "too-large" || body.mode === "daily-limit" || body.point_count === 0;
  }

  function askEstimate() {
    var request = area();
    var slug = datasetField.value;
    var asked = ++state.asked;
    if (!request) {
      state.estimate = null;
      showEstimate(el("p", { className: "hint" }, "Draw a rectangle or polygon on the map, or type a bounding box, to see how many points it holds."));
      return;
    }
    showEstimate(el("p", { className: "hint" }, "Counting the points…"), "busy");
    fetch(config.estimateUrl.replace("{slug}", encodeURIComponent(slug)), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(Object.assign({}, request, filters())),
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (asked !== state.asked) return; // a newer area was asked meanwhile
      if (answer.ok) renderEstimate(answer.body);
      else {
        state.estimate = null;
        var field = answer.body.field ? " (" + answer.body.field + ")" : "";
        showEstimate(el("p", { className: "error", role: "alert" }, answer.body.detail + field), "refused");
      }
    }).catch(function () {
      if (asked === state.asked) showEstimate(el("p", { className: "error" }, "The estimate could not be fetched."), "refused");
    });
  }

  function askSoon() {
    clearTimeout(state.timer);
    state.timer = setTimeout(askEstimate, 250);
  }

  function setJob(children, kind) {
    jobBox.hidden = false;
    jobBox.className = "job-progress " + (kind || "");
    jobBox.replaceChildren.apply(jobBox, [].concat(children));
  }

  function renderJob(job) {
    var bar = el("progress", { id: "job-bar", max: "1", value: String(job.progress || 0) });
    var line = el("p", { id: "job-text", "data-state": job.state, "data-progress": job.progress }, progressText(job));
    var parts = [el("h3", null, "Export #" + job.id), bar, line];
    if (job.state === "succeeded" && job.file) {
      var expires = job.expires_at ? " (kept until " + new Date(job.expires_at).toUTCString() + ")" : "";
      parts.push(el("p", null, [el("a", { id: "job-file", href: job.file }, "Download the file"), expires]));
    }
    if (job.state === "failed") {
      var reason = (job.message || "Export failed").replace(/[.!]?$/, ".");
      parts.push(el("p", { className: "error", role: "alert", id: "job-error" }, reason + " Try again, or choose a smaller area."));
    }
    setJob(parts, job.state);
    if (job.state === "succeeded" || job.state === "failed") refreshPastDownloads();
  }

  /* The past downloads table, as the server renders it now (with the job just finished). */
  function refreshPastDownloads() {
    fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("past-downloads");
        var table = document.getElementById("past-downloads");
        if (fresh && table) table.replaceWith(document.importNode(fresh, true));
      });
  }

  function pollJob(id) {
    fetch(config.jobUrl.replace("{id}", id), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        renderJob(job);
        if (job.state === "queued" || job.state === "running") setTimeout(function () { pollJob(id); }, 700);
      })
      .catch(function () { setTimeout(function () { pollJob(id); }, 2000); });
  }

  /* Large areas: the export job is asked from the API and followed here, the page stays. */
  function startBackgroundDownload() {
    var query = new URLSearchParams(Object.assign({ output: formatField.value }, area(), filters()));
    setJob(el("p", null, "Starting the export…"), "queued");
    fetch(config.downloadUrl.replace("{slug}", encodeURIComponent(datasetField.value)) + "?" + query.toString(),
      { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 202) return response.json().then(function (body) { pollJob(body.job); });
        if (response.ok) { form.submit(); return null; } // fewer points than estimated: at once
        return response.json().then(function (body) {
          setJob(el("p", { className: "error", role: "alert", id: "job-error" }, body.detail), "failed");
        });
      })
      .catch(function () { setJob(el("p", { className: "error", role: "alert" }, "The export could not be started."), "failed"); });
  }

  form.addEventListener("submit", function (event) {
    if (state.estimate && state.estimate.mode === "background") {
      event.preventDefault();
      startBackgroundDownload();
    }
  });

  map.on(L.Draw.Event.CREATED, function (event) {
    drawn.clearLayers();
    drawn.addLayer(event.layer);
    if (event.layerType === "rectangle") {
      var b = event.layer.getBounds();
      bboxField.value = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(",");
      polygonField.value = "";
    } else {
      polygonField.value = ringWkt(event.layer.getLatLngs()[0]);
      bboxField.value = "";
    }
    askSoon();
  });
  datasetField.addEventListener("change", function () { showDataset(datasetField.value); askSoon(); });
  formatField.addEventListener("change", function () { if (state.estimate) renderEstimate(state.estimate); });
  bboxField.addEventListener("input", function () { if (bboxField.value.trim()) polygonField.value = ""; drawTypedBbox(); askSoon(); });
  polygonField.addEventListener("input", askSoon);
  FILTER_NAMES.forEach(function (name) {
    var field = document.getElementById("id_" + name);
    if (field) field.addEventListener("input", askSoon);
  });

  showDataset(datasetField.value);
  drawTypedBbox();
  askEstimate();
  mapElement.dataset.ready = "true";
})();
