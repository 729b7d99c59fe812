/* The base map every page's map shares (viewer, download page, admin): online tiles when
   GROUNDMOTION_BASEMAP_URL is set, otherwise offline data shipped in static/vendor and cut
   into cells by scripts/basemap_data.py: Natural Earth 1:110m countries below zoom 5,
   Natural Earth 1:10m land and 1:50m borders in 10-degree cells from zoom 5, full-resolution
   GSHHG land in 1-degree cells over Europe (EGMS's area) from zoom 9, and GeoNames towns as
   labels, larger towns first. config: map_views.basemap_config(). Needs Leaflet and
   topojson-client; nothing of the viewer's. */
(function () {
  "use strict";
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});

  var SEA = "#cfe3f2";
  var LAND = "#f4f1ea";
  var MEDIUM_ZOOM = 5;
  var FINE_ZOOM = 9;
  var TOWN_CELL_ZOOM = 8;
  var MAX_LABELS = 120;
  var MAX_KEPT_LAYERS = 400; // cell layers kept off the map for a quick return, at most
  var BORDER_STYLE = { color: "#a9a39a", weight: 1, dashArray: "4 3" };
  var RIVER_STYLE = { stroke: true, color: "#a8cbe6", weight: 1.2, fill: false, interactive: false };

  // Smallest population labelled at a zoom: below TOWN_CELL_ZOOM only the world file's towns.
  function minPopulation(zoom) {
    var table = { 3: 5e6, 4: 2e6, 5: 1e6, 6: 5e5, 7: 2e5, 8: 3e4, 9: 1e4, 10: 5e3, 11: 2e3, 12: 1e3 };
    if (zoom < 3) return Infinity;
    // From zoom 13 every town of the file, smaller seats of communes (Ustica, 819) included.
    return zoom >= 13 ? 0 : table[zoom];
  }

  // 'lat_lon' keys of the size-degree cells a bounds covers.
  function cellKeys(bounds, size) {
    var keys = [];
    var south = Math.max(-90, Math.floor(bounds.getSouth() / size) * size);
    var north = Math.min(89, Math.floor(bounds.getNorth() / size) * size);
    var west = Math.max(-180, Math.floor(bounds.getWest() / size) * size);
    var east = Math.min(179, Math.floor(bounds.getEast() / size) * size);
    for (var lat = south; lat <= north; lat += size) {
      for (var lon = west; lon <= east; lon += size) keys.push(lat + "_" + lon);
    }
    return keys;
  }

  function getJSON(url) {
    return fetch(url).then(function (response) {
      if (!response.ok) throw new Error(url + ": " + response.status);
      return response.json();
    });
  }

  // A fetch cache: each URL is asked once, its promise kept.
  function memo() {
    var store = {};
    return function (url) {
      if (!store[url]) store[url] = getJSON(url).catch(function () { return null; });
      return store[url];
    };
  }

  // Rings that cross the antimeridian (Russia, Fiji) jump from 180 to -180 degrees, which
  // a plane map draws as a line across the world: make their longitudes continuous instead.
  function unwrap(geometry) {
    if (!geometry) return;
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    polygons.forEach(function (rings) {
      rings.forEach(function (ring) {
        for (var i = 1; i < ring.length; i++) {
          var step = ring[i][0] - ring[i - 1][0];
          if (step > 180) ring[i][0] -= 360;
          else if (step < -180) ring[i][0] += 360;
        }
      });
    });
  }

  function townLabel(row) {
    var node = document.createElement("span");
    node.className = "gm-town";
    node.textContent = row[0];
    // Styled here, not in a page's CSS: every page with a map gets the same labels.
    var style = node.style;
    style.position = "absolute";
    style.transform = "translate(-50%, -50%)";
    style.whiteSpace = "nowrap";
    style.font = (row[3] >= 1e5 ? "600 12px" : "11px") + " system-ui, sans-serif";
    style.color = "#3b3a36";
    style.textShadow = "0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff";
    return L.divIcon({ html: node, className: "gm-town-icon", iconSize: null });
  }

  function Offline(map, config) {
    this.map = map;
    this.config = config;
    this.fetch = memo();
    this.renderer = L.canvas({ pane: "gm-land", padding: 0.2 });
    this.landStyle = { stroke: true, color: LAND, weight: 0.8, fillColor: LAND, fillOpacity: 1, interactive: false };
    this.layers = {}; // "m", "f" or "b" + cell key -> L.GeoJSON: medium or fine land, borders
    this.shown = {};
    this.labels = L.layerGroup().addTo(map);
    this.generation = 0;
  }

  Offline.prototype.start = function () {
    var self = this;
    var map = this.map;
    map.getContainer().style.background = SEA;
    map.createPane("gm-land").style.zIndex = 150;
    map.createPane("gm-borders").style.zIndex = 160;
    map.createPane("gm-labels").style.zIndex = 450;
    map.getPane("gm-labels").style.pointerEvents = "none";
    if (map.attributionControl) map.attributionControl.addAttribution(this.config.offlineAttribution);
    this.index = this.fetch(this.config.landUrl + "index.json");
    map.on("moveend zoomend", function () { self.update(); });
    this.update();
    return this;
  };

  // The medium cells in view, with what they list: fine land cells and town cells.
  Offline.prototype.mediumCells = function (bounds) {
    var self = this;
    return this.index.then(function (index) {
      var present = {};
      (index || []).forEach(function (key) { present[key] = true; });
      var keys = cellKeys(bounds, 10).filter(function (key) { return present[key]; });
      return Promise.all(keys.map(function (key) {
        return self.fetch(self.config.landUrl + key + ".json").then(function (body) { return { key: key, body: body }; });
      }));
    });
  };

  // Below MEDIUM_ZOOM: the world's country outlines, filled, fetched once first needed.
  Offline.prototype.showWorld = function (visible, generation) {
    var self = this;
    if (!visible) { if (this.world) this.world.remove(); return; }
    this.fetch(this.config.outlinesUrl).then(function (topology) {
      if (!topology || generation !== self.generation) return;
      if (!self.world) {
        var countries = topojson.feature(topology, topology.objects.countries);
        countries.features.forEach(function (feature) { unwrap(feature.geometry); });
        self.world = L.geoJSON(countries, {
          pane: "gm-land", interactive: false,
          style: { color: "#a9a39a", weight: 0.6, fillColor: LAND, fillOpacity: 1 },
        });
      }
      self.world.addTo(self.map);
    });
  };

  Offline.prototype.update = function () {
    var self = this;
    var generation = ++this.generation;
    var zoom = this.map.getZoom();
    var bounds = this.map.getBounds().pad(0.25);
    this.showWorld(zoom < MEDIUM_ZOOM, generation);
    if (zoom < MEDIUM_ZOOM) {
      this.show({});
      this.updateLabels(generation, zoom, []);
      return;
    }
    this.mediumCells(bounds).then(function (cells) {
      if (generation !== self.generation) return;
      var wanted = {};
      var fineKeys = [];
      var townKeys = [];
      var inView = {};
      cellKeys(bounds, 1).forEach(function (key) { inView[key] = true; });
      cells.forEach(function (cell) {
        if (!cell.body) return;
        var fine = zoom >= FINE_ZOOM && cell.body.covered;
        if (!fine && cell.body.land) wanted["m" + cell.key] = cell.body.land;
        if (cell.body.borders) wanted["b" + cell.key] = cell.body.borders;
        if (fine) (cell.body.fine || []).forEach(function (key) { if (inView[key]) fineKeys.push(key); });
        (cell.body.towns || []).forEach(function (key) { if (inView[key]) townKeys.push(key); });
      });
      self.updateLabels(generation, zoom, townKeys);
      if (!fineKeys.length) { self.show(wanted); return; }
      Promise.all(fineKeys.map(function (key) {
        return self.fetch(self.config.fineLandUrl + key + ".json").then(function (geometry) {
          if (geometry) wanted["f" + key] = geometry;
        });
      })).then(function () {
        if (generation === self.generation) self.show(wanted);
      });
    });
  };

  // A cell's layer: land ("m" medium, "f" fine) on the canvas, or borders ("b") as lines.
  Offline.prototype.layerOf = function (key, topology) {
    var objects = topology.objects;
    if (key.charAt(0) === "b") {
      return L.geoJSON(topojson.feature(topology, objects.borders), { pane: "gm-borders", interactive: false, style: BORDER_STYLE });
    }
    var landStyle = this.landStyle;
    var layer = L.geoJSON(topojson.feature(topology, objects.land), {
      pane: "gm-land", renderer: this.renderer,
      style: function (feature) { return feature.geometry.type === "MultiLineString" ? RIVER_STYLE : landStyle; },
    });
    // GSHHG cells carry WDBII rivers: drawn over the land, on the same canvas.
    if (objects.rivers) layer.addData(topojson.feature(topology, objects.rivers));
    return layer;
  };

  // Shows exactly the wanted cells (key -> TopoJSON topology), hiding the others.
  Offline.prototype.show = function (wanted) {
    var self = this;
    Object.keys(this.shown).forEach(function (key) {
      if (!wanted[key]) { self.layers[key].remove(); delete self.shown[key]; }
    });
    Object.keys(wanted).forEach(function (key) {
      if (self.shown[key]) return;
      if (!self.layers[key]) self.layers[key] = self.layerOf(key, wanted[key]);
      self.layers[key].addTo(self.map);
      self.shown[key] = true;
    });
    var kept = Object.keys(this.layers);
    if (kept.length > MAX_KEPT_LAYERS) {
      kept.forEach(function (key) { if (!self.shown[key]) delete self.layers[key]; });
    }
  };

  Offline.prototype.updateLabels = function (generation, zoom, townKeys) {
    var self = this;
    var floor = minPopulation(zoom);
    var sources = [this.fetch(this.config.townsUrl + "world.json")];
    if (zoom >= TOWN_CELL_ZOOM) {
      sources = townKeys.map(function (key) { return self.fetch(self.config.townsUrl + "cells/" + key + ".json"); });
    }
    Promise.all(sources).then(function (lists) {
      if (generation !== self.generation) return;
      var bounds = self.map.getBounds();
      var towns = [];
      lists.forEach(function (rows) {
        (rows || []).forEach(function (row) {
          if (row[3] >= floor && bounds.contains([row[1], row[2]])) towns.push(row);
        });
      });
      towns.sort(function (a, b) { return b[3] - a[3]; });
      self.placeLabels(towns);
    });
  };

  // Largest towns first; a label that would overlap one already placed is left out.
  Offline.prototype.placeLabels = function (towns) {
    var map = this.map;
    var taken = [];
    this.labels.clearLayers();
    for (var i = 0; i < towns.length && taken.length < MAX_LABELS; i++) {
      var row = towns[i];
      var at = map.latLngToContainerPoint([row[1], row[2]]);
      var half = 3.5 * row[0].length + 6;
      var box = [at.x - half, at.y - 9, at.x + half, at.y + 9];
      var clash = taken.some(function (b) { return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; });
      if (clash) continue;
      taken.push(box);
      L.marker([row[1], row[2]], { icon: townLabel(row), pane: "gm-labels", interactive: false, keyboard: false }).addTo(this.labels);
    }
  };

  function add(map, config) {
    if (config.basemapUrl) {
      L.tileLayer(config.basemapUrl, { maxZoom: 19, attribution: config.basemapAttribution || "Base map" }).addTo(map);
      return null;
    }
    var offline = new Offline(map, config).start();
    map.gmBasemap = offline;
    return offline;
  }

  GM.basemap = { add: add, minPopulation: minPopulation, cellKeys: cellKeys, unwrap: unwrap, SEA: SEA, LAND: LAND };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.basemap;
})();
