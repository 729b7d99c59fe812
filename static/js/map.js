/* The viewer: attaches on django-leaflet's map:init, then wires layers, panel, search and URL. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});
  // VectorGrid 1.3.0 calls L.DomEvent.fakeStop, removed in Leaflet 1.8 (VectorGrid issue #274):
  // a stand-in for the missing public function, nothing of Leaflet's own is replaced.
  // eslint-disable-next-line no-restricted-syntax -- adds a removed function, replaces nothing
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = function () { return true; };

  /* The dataset tiles: VectorGrid.Protobuf whose features are clickable under Leaflet 1.9.
     Its point symbolizers are CircleMarkers drawn in tile pixels, with no _latlng. Leaflet 1.9's
     Map#_fireDOMEvent treats a target with getLatLng as a marker and asks it for its position
     (latLngToContainerPoint(undefined) throws, the click is lost). Without getLatLng, Leaflet
     takes the mouse position instead. The subclass does this for its own layers only; other
     VectorGrids (and VectorGrid's prototype) are untouched. VectorGrid 1.3 has no option for it. */
  var PointTiles = L.VectorGrid.Protobuf.extend({
    _createLayer: function () {
      var layer = L.VectorGrid.Protobuf.prototype._createLayer.apply(this, arguments);
      if (layer && !layer._latlng) layer.getLatLng = null;
      return layer;
    },
  });
  GM.PointTiles = PointTiles;

  function datasetLayer(viewer, slug) {
    var url = viewer.config.tileUrl.replace("{slug}", encodeURIComponent(slug));
    viewer.styled[slug] = viewer.styled[slug] || 0;
    var style = function (properties, zoom) {
      viewer.styled[slug] += 1;
      var isCell = properties.count !== undefined;
      var radius = isCell ? Math.min(3 + Math.log2(properties.count + 1) * 0.6, 8) : (zoom >= 16 ? 5 : 4);
      var colour = viewer.legend.colour(properties.velocity);
      return { radius: radius, fill: true, fillColor: colour, fillOpacity: 0.9, stroke: !isCell, color: "#333", weight: 0.5 };
    };
    return new PointTiles(url, {
      rendererFactory: L.canvas.tile,
      interactive: true,
      maxNativeZoom: 18,
      vectorTileLayerStyles: { points: style, cells: style },
      // Copies the MVT feature id (the point's id) into the properties the click handler sees.
      getFeatureId: function (feature) {
        if (feature.id !== undefined) feature.properties.id = feature.id;
        return feature.id;
      },
      fetchOptions: { credentials: "same-origin" },
    });
  }

  function showDataset(viewer, slug) {
    if (viewer.layer) viewer.map.removeLayer(viewer.layer);
    viewer.dataset = slug;
    viewer.layer = datasetLayer(viewer, slug).addTo(viewer.map);
    viewer.layer.on("click", function (event) {
      var properties = event.layer.properties || {};
      if (properties.id === undefined) { GM.pointPanel.showCell(viewer, properties); return; }
      viewer.select([properties.id], event.originalEvent && event.originalEvent.shiftKey);
    });
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

  function makeViewer(map, config) {
    var viewer = { map: map, config: config, dataset: null, layer: null, selected: [], styled: {} };
    viewer.panel = new GM.Panel(document.getElementById("side-panel"));
    viewer.panel.onClose = function () { viewer.selected = []; viewer.saveState(); };
    viewer.panel.onResize = function () { map.invalidateSize(); };
    viewer.legend = new GM.Legend(document.getElementById("legend"), function () {
      if (viewer.layer) viewer.layer.redraw();
    });
    viewer.saveState = function () { GM.urlState.write(map, viewer.dataset, viewer.selected); };
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

  function fillDatasetSelect(viewer) {
    var select = document.getElementById("dataset-select");
    var groups = {};
    viewer.config.datasets.forEach(function (dataset) {
      // Grouped by product: L2a/L2b ascending or descending LOS, L3 east-west or up-down.
      var label = dataset.level.toUpperCase() + " · " + (dataset.level === "l3" ? dataset.component : dataset.pass_direction + " LOS");
      if (!groups[label]) {
        groups[label] = document.createElement("optgroup");
        groups[label].label = label;
        select.appendChild(groups[label]);
      }
      var option = document.createElement("option");
      option.value = dataset.slug;
      option.textContent = dataset.name + (dataset.status === "draft" ? " (draft)" : "") + (dataset.sees_points ? "" : " (cells only)");
      groups[label].appendChild(option);
    });
    select.addEventListener("change", function () { viewer.showDataset(select.value); });
  }

  window.addEventListener("map:init", function (event) {
    var map = event.detail.map;
    var config = JSON.parse(document.getElementById("viewer-config").textContent);
    var viewer = (GM.viewer = makeViewer(map, config));
    var state = GM.urlState.read();
    GM.basemap.add(map, config);
    if (state.view) map.setView([state.view.lat, state.view.lon], state.view.zoom);
    fillDatasetSelect(viewer);
    var slugs = config.datasets.map(function (dataset) { return dataset.slug; });
    var initial = slugs.indexOf(state.dataset) >= 0 ? state.dataset : slugs[0];
    if (initial) viewer.showDataset(initial);
    GM.overlays.addOverlays(viewer);
    GM.placeSearch.setUp(viewer);
    GM.drawArea.setUp(viewer);
    map.on("moveend", viewer.saveState);
    if (state.points.length) viewer.select(state.points, false);
    document.body.setAttribute("data-viewer-ready", "true");
  });
})();
