/* The viewer: attaches on django-leaflet's map:init, then wires layers, panel, search and URL. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});
  var PointTiles = GM.PointTiles; // static/js/point-tiles.js: the dataset tiles on canvases

  /* The value a feature is coloured by: its `change` on the changes layer, else its velocity
     (over the period and relative to the reference when the tiles were asked for them). */
  function colourValue(viewer, properties) {
    return viewer.analysis.changes ? properties.change : properties.velocity;
  }

  function datasetLayer(viewer, slug) {
    var url = viewer.config.tileUrl.replace("{slug}", encodeURIComponent(slug)) + GM.analysis.query(viewer.analysis);
    viewer.styled[slug] = viewer.styled[slug] || 0;
    // One style object per radius and colour, shared by every feature that has them: the style
    // function runs for each feature of each tile at every restyle (bench/page).
    var styles = new Map();
    var style = function (properties, zoom) {
      viewer.styled[slug] += 1;
      // An empty list of styles leaves a feature undrawn and unclickable (point-tiles.js's contract).
      var shown = viewer.shown;
      if (!GM.colourScale.passes(properties, viewer.filters.filter)) {
        shown.hidden += 1;
        return [];
      }
      shown.drawn += 1;
      var value = colourValue(viewer, properties);
      shown.low = Math.min(shown.low, value);
      shown.high = Math.max(shown.high, value);
      var isCell = properties.count !== undefined;
      var radius = isCell ? Math.min(3 + Math.log2(properties.count + 1) * 0.6, 8) : (zoom >= 16 ? 5 : 4);
      var colour = viewer.legend.colour(value);
      var key = radius + (isCell ? "c" : "p") + colour;
      var found = styles.get(key);
      if (!found) {
        if (styles.size > 20000) styles.clear();
        found = { radius: radius, fill: true, fillColor: colour, fillOpacity: 0.9, stroke: !isCell, color: "#333", weight: 0.5 };
        styles.set(key, found);
      }
      return found;
    };
    var archive = staticArchive(viewer, slug);
    var layer = new PointTiles(url, {
      archive: archive,
      interactive: true,
      maxNativeZoom: archive ? viewer.config.archiveMaxZoom : 18,
      vectorTileLayerStyles: { points: style, cells: style },
      // Copies the MVT feature id (the point's id) into the properties the click handler sees.
      getFeatureId: function (feature) {
        if (feature.id !== undefined) feature.properties.id = feature.id;
        return feature.id;
      },
      fetchOptions: { credentials: "same-origin" },
    });
    // Zooms past the archive's last are drawn from its last tiles, enlarged.
    if (archive) {
      archive.getHeader().then(function (header) {
        if (header.maxZoom !== layer.options.maxNativeZoom) { layer.options.maxNativeZoom = header.maxZoom; layer.redraw(); }
      }, function () {});
    }
    return layer;
  }

  /* The dataset's static PMTiles archive (docs/static-tiles.md), one reader per dataset, when
     the server gave its URL (public datasets, anonymous users) and no analysis is asked (those
     tiles are computed per request). */
  function staticArchive(viewer, slug) {
    var archiveUrl = datasetBySlug(viewer, slug).archive_url;
    if (!archiveUrl || !window.pmtiles || GM.analysis.query(viewer.analysis)) return null;
    viewer.archives = viewer.archives || {};
    viewer.archives[slug] = viewer.archives[slug] || new window.pmtiles.PMTiles(archiveUrl);
    return viewer.archives[slug];
  }

  function datasetBySlug(viewer, slug) {
    return viewer.config.datasets.filter(function (dataset) { return dataset.slug === slug; })[0] || {};
  }

  /* The layer's tiles, asked again with the current analysis (a period, a reference, changes). */
  function loadLayer(viewer) {
    if (viewer.layer) viewer.map.removeLayer(viewer.layer);
    viewer.shown = emptyCounts();
    viewer.layer = datasetLayer(viewer, viewer.dataset).addTo(viewer.map);
    var counting = null;
    viewer.layer.on("tileload", function () {
      clearTimeout(counting);
      counting = setTimeout(function () { showCounts(viewer); }, 100);
    });
    viewer.layer.on("tilerefused", function (event) { viewer.analysisControls.refused(event.body); });
    viewer.layer.on("click", function (event) {
      if (viewer.drawing) return; // a vertex of the area being drawn, not a pick
      var properties = event.layer.properties || {};
      if (properties.id === undefined) { GM.pointPanel.showCell(viewer, properties); return; }
      viewer.select([properties.id], event.originalEvent && event.originalEvent.shiftKey);
    });
  }

  /* Points of the previous layer leave the panel and the URL; the nearest point of the new layer
     is offered, not selected. A reference is a point of one layer: it goes with the layer. */
  function showDataset(viewer, slug) {
    var previous = viewer.dataset;
    var old = previous && previous !== slug ? (viewer.selectedPoints || [])[0] : null;
    if (previous && previous !== slug && viewer.analysis.reference) viewer.analysis = Object.assign({}, viewer.analysis, { reference: null });
    viewer.dataset = slug;
    viewer.selected = [];
    viewer.selectedPoints = [];
    viewer.legend.setQuantity(datasetBySlug(viewer, slug).quantity);
    if (previous && previous !== slug) {
      if (old) GM.pointPanel.offerNearby(viewer, old, datasetBySlug(viewer, previous).name || previous);
      else if (!viewer.panel.element.hidden) viewer.panel.close();
    }
    loadLayer(viewer);
    GM.analysisViewer.datasetShown(viewer);
    document.getElementById("dataset-select").value = slug;
    viewer.saveState();
  }

  var HIGHLIGHT = { radius: 7, fill: true, fillColor: "#fff", fillOpacity: 0.7, stroke: true, color: "#000", weight: 2.5 };

  function highlight(viewer, on) {
    if (!viewer.layer) return;
    viewer.selected.forEach(function (id) {
      if (on) viewer.layer.setFeatureStyle(id, HIGHLIGHT);
      else viewer.layer.resetFeatureStyle(id);
    });
  }

  /* What the style function saw since the last restyle: features drawn and hidden by the filters
     (a feature at a tile's edge is styled in each tile it is in), the lowest and highest velocity
     drawn. Points are counted once by the layer's shownIds. */
  function emptyCounts() {
    return { drawn: 0, hidden: 0, low: Infinity, high: -Infinity };
  }

  function showCounts(viewer) {
    if (!viewer.filters.active() || !viewer.layer) { viewer.filters.count.textContent = ""; return; }
    var shown = viewer.shown, ids = viewer.layer.shownIds(), total = ids.drawn.size + ids.hidden.size;
    viewer.filters.count.textContent = total
      ? ids.drawn.size + " of " + total + " points in the loaded tiles pass."
      : "Cells: " + shown.drawn + " of " + (shown.drawn + shown.hidden) + " pass.";
  }

  /* Tiles are restyled in the browser (colours, filters); the counters restart with each restyle. */
  function restyle(viewer) {
    viewer.shown = emptyCounts();
    if (viewer.layer) viewer.layer.redraw();
    showCounts(viewer);
    viewer.saveState();
  }

  function makeViewer(map, config) {
    var viewer = { map: map, config: config, dataset: null, layer: null, selected: [], selectedPoints: [], styled: {},
                   shown: emptyCounts(), analysis: {} };
    viewer.panel = new GM.Panel(document.getElementById("side-panel"));
    viewer.panel.onClose = function () { viewer.selected = []; viewer.selectedPoints = []; viewer.saveState(); };
    viewer.panel.onResize = function () { map.invalidateSize(); };
    viewer.legend = new GM.Legend(document.getElementById("legend"), function () { restyle(viewer); });
    viewer.filters = new GM.Filters(document.getElementById("filters"), function () { restyle(viewer); });
    viewer.saveState = function () {
      GM.urlState.write(map, { dataset: viewer.dataset, points: viewer.selected, range: viewer.legend.range,
                               reversed: viewer.legend.inverted, filters: viewer.filters.filter, analysis: viewer.analysis });
    };
    viewer.reloadLayer = function () { loadLayer(viewer); };
    viewer.select = function (ids, add) {
      highlight(viewer, false);
      viewer.selected = add ? viewer.selected.concat(ids.filter(function (id) { return viewer.selected.indexOf(id) < 0; })) : ids;
      highlight(viewer, true);
      viewer.saveState();
      return GM.pointPanel.showPoints(viewer, viewer.selected);
    };
    viewer.showDataset = function (slug) { showDataset(viewer, slug); };
    return viewer;
  }

  window.addEventListener("map:init", function (event) {
    var map = event.detail.map;
    var config = JSON.parse(document.getElementById("viewer-config").textContent);
    var viewer = (GM.viewer = makeViewer(map, config));
    var state = GM.urlState.read();
    GM.analysisViewer.setUp(viewer, state.analysis);
    if (state.range) viewer.legend.range = state.range;
    if (state.reversed) viewer.legend.inverted = true;
    viewer.legend.render();
    viewer.filters.set(state.filters || {});
    GM.basemap.add(map, config);
    if (state.view) map.setView([state.view.lat, state.view.lon], state.view.zoom);
    GM.layerPicker.fill(viewer);
    var slugs = config.datasets.map(function (dataset) { return dataset.slug; });
    var initial = slugs.indexOf(state.dataset) >= 0 ? state.dataset : slugs[0];
    if (initial) viewer.showDataset(initial);
    GM.overlays.addOverlays(viewer);
    GM.gnssCompare.setUp(viewer);
    GM.placeSearch.setUp(viewer);
    GM.drawArea.setUp(viewer);
    GM.profileTool.setUp(viewer);
    map.on("moveend", viewer.saveState);
    if (state.points.length) viewer.select(state.points, false);
    document.body.setAttribute("data-viewer-ready", "true");
  });
})();
