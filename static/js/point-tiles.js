/* The dataset tiles: our MVT point and cell tiles drawn straight onto one canvas per tile.

   Why not Leaflet.VectorGrid: it makes a Leaflet layer object (bounds, events, a path) for
   every feature, so a z13 tile of 5,000 points costs tens of milliseconds of main-thread work
   and zooming through dense tiles stuttered (bench/page: p95 frame 300 ms on 10^6 points).
   Here a tile is decoded once (pbf + the few lines of the MVT spec our tiles use: point
   geometries and their properties) into flat arrays, and drawn as circles batched by style;
   restyling (colour range, reverse, filters, a highlight) redraws from those arrays without
   fetching again. Clicks are found by a nearest-feature search in the tile under the mouse.

   The options and the style contract are VectorGrid's, so the viewer's code did not change:
   vectorTileLayerStyles {points: fn, cells: fn} called as fn(properties, zoom) returning
   {radius, fill, fillColor, fillOpacity, stroke, color, weight} or [] (not drawn, not
   clickable); setFeatureStyle(id, style) / resetFeatureStyle(id); redraw(); "click" events
   with event.layer.properties (the feature id copied into properties.id); "tilerefused" with
   event.body, the JSON of a 400 (a bad period or reference). With options.archive (a
   pmtiles.PMTiles, docs/static-tiles.md) tiles are read from that static archive instead.

   decodeTile is pure (tests/tiles/test_browser_decoder.py runs it in node on tiles PostGIS made). */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});

  function readValue(pbf) {
    var value = null, end = pbf.readVarint() + pbf.pos;
    while (pbf.pos < end) {
      var tag = pbf.readVarint() >> 3;
      if (tag === 1) value = pbf.readString();
      else if (tag === 2) value = pbf.readFloat();
      else if (tag === 3) value = pbf.readDouble();
      else if (tag === 4) value = pbf.readVarint64();
      else if (tag === 5) value = pbf.readVarint();
      else if (tag === 6) value = pbf.readSVarint();
      else if (tag === 7) value = pbf.readBoolean();
      else value = null;
    }
    return value;
  }

  /* One feature: id, tag pairs and the first point of its geometry (our features are points). */
  function readFeature(pbf, end) {
    var feature = { id: undefined, tags: [], x: 0, y: 0, type: 0 };
    while (pbf.pos < end) {
      var val = pbf.readVarint(), tag = val >> 3;
      pbf.type = val & 7; // pbf's readPacked* reads one value unless the wire type is Bytes
      if (tag === 1) feature.id = pbf.readVarint();
      else if (tag === 2) feature.tags = pbf.readPackedVarint();
      else if (tag === 3) feature.type = pbf.readVarint();
      else if (tag === 4) {
        var geometry = pbf.readPackedVarint();
        // MoveTo with one point: command, then zigzag-encoded x and y.
        if (geometry.length >= 3 && (geometry[0] & 7) === 1) {
          feature.x = (geometry[1] >> 1) ^ -(geometry[1] & 1);
          feature.y = (geometry[2] >> 1) ^ -(geometry[2] & 1);
        }
      } else pbf.skip(val);
    }
    return feature;
  }

  function readLayer(pbf, end) {
    var layer = { name: "", extent: 4096, keys: [], values: [], features: [] };
    while (pbf.pos < end) {
      var val = pbf.readVarint(), tag = val >> 3;
      if (tag === 1) layer.name = pbf.readString();
      else if (tag === 2) {
        var featureEnd = pbf.readVarint() + pbf.pos;
        layer.features.push(readFeature(pbf, featureEnd));
      } else if (tag === 3) layer.keys.push(pbf.readString());
      else if (tag === 4) layer.values.push(readValue(pbf));
      else if (tag === 5) layer.extent = pbf.readVarint();
      else pbf.skip(val);
    }
    return layer;
  }

  /* MVT bytes -> [{layer: name, id, properties, x, y}] with x, y in tile pixels of `size`. */
  function decodeTile(bytes, size) {
    var pbf = new globalThis.Pbf(bytes), features = []; // vendor/pbf-3.3.0, loaded before this file
    while (pbf.pos < pbf.length) {
      var val = pbf.readVarint(), tag = val >> 3;
      if (tag !== 3) { pbf.skip(val); continue; }
      var layer = readLayer(pbf, pbf.readVarint() + pbf.pos), scale = size / layer.extent;
      layer.features.forEach(function (feature) {
        var properties = {};
        for (var i = 0; i + 1 < feature.tags.length; i += 2) {
          properties[layer.keys[feature.tags[i]]] = layer.values[feature.tags[i + 1]];
        }
        features.push({ layer: layer.name, id: feature.id, properties: properties, x: feature.x * scale, y: feature.y * scale });
      });
    }
    return features;
  }

  function drawn(style) {
    return style && !Array.isArray(style) && style.radius > 0 && (style.fill !== false || style.stroke);
  }

  function styleKey(style) {
    return [style.radius, style.fill !== false ? style.fillColor : "", style.fillOpacity,
      style.stroke ? style.color : "", style.weight].join("|");
  }

  /* Circles of equal style drawn in one path each: a few fills per tile, not one per feature. */
  function clear(canvas) {
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  }

  /* Draws features[from, to) (all by default) over what the canvas holds. */
  function paint(canvas, features, styles, ratio, from, to) {
    var context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    var batches = {}, order = [];
    var end = to === undefined ? features.length : Math.min(to, features.length);
    for (var i = from || 0; i < end; i++) {
      var feature = features[i], style = styles[i];
      if (!drawn(style)) continue;
      var key = styleKey(style);
      if (!batches[key]) { batches[key] = { style: style, items: [] }; order.push(key); }
      batches[key].items.push(feature);
    }
    order.forEach(function (key) {
      var batch = batches[key], style = batch.style;
      context.beginPath();
      batch.items.forEach(function (feature) {
        context.moveTo(feature.x + style.radius, feature.y);
        context.arc(feature.x, feature.y, style.radius, 0, 2 * Math.PI);
      });
      if (style.fill !== false) {
        context.globalAlpha = style.fillOpacity === undefined ? 1 : style.fillOpacity;
        context.fillStyle = style.fillColor || "#3388ff";
        context.fill();
      }
      if (style.stroke) {
        context.globalAlpha = style.opacity === undefined ? 1 : style.opacity;
        context.strokeStyle = style.color || "#3388ff";
        context.lineWidth = style.weight === undefined ? 1 : style.weight;
        context.stroke();
      }
    });
    context.globalAlpha = 1;
  }

  /* Decoding and painting tiles is spread over animation frames, about 8 ms of it a frame, so
     that tiles arriving together during a zoom do not stall one frame: a tile is decoded in one
     step, then styled and drawn SLICE features a step (about 4 ms for 2,500 in bench/page). */
  var queue = [], FRAME_BUDGET_MS = 8, SLICE = 2500;

  function runQueue() {
    var start = performance.now();
    while (queue.length && performance.now() - start < FRAME_BUDGET_MS) queue.shift()();
    if (queue.length) requestAnimationFrame(runQueue);
  }

  function schedule(job) {
    queue.push(job);
    if (queue.length === 1) requestAnimationFrame(runQueue);
  }

  var PointTiles = typeof L === "undefined" ? null : L.GridLayer.extend({
    options: { vectorTileLayerStyles: {}, fetchOptions: {}, getFeatureId: null, interactive: true },

    initialize: function (url, options) {
      this._url = url;
      this._overrides = {};
      this._tileData = {};
      L.GridLayer.prototype.initialize.call(this, options);
      this.on("tileunload", function (event) { delete this._tileData[this._tileCoordsToKey(event.coords)]; }, this);
    },

    onAdd: function (map) {
      L.GridLayer.prototype.onAdd.call(this, map);
      if (this.options.interactive) {
        map.on("click", this._onPointerClick, this);
        map.on("mousemove", this._onPointerMove, this);
      }
    },

    onRemove: function (map) {
      map.off("click", this._onPointerClick, this);
      map.off("mousemove", this._onPointerMove, this);
      map.getContainer().style.cursor = "";
      L.GridLayer.prototype.onRemove.call(this, map);
    },

    createTile: function (coords, done) {
      var self = this, size = this.getTileSize(), ratio = window.devicePixelRatio || 1;
      var canvas = document.createElement("canvas");
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = size.x + "px";
      canvas.style.height = size.y + "px";
      var key = this._tileCoordsToKey(coords);
      var url = L.Util.template(this._url, { x: coords.x, y: coords.y, z: coords.z });
      this._tileBytes(coords, url).then(function (buffer) {
        schedule(function () {
          if (!self._map) return;
          var features = decodeTile(new Uint8Array(buffer), size.x);
          var getId = self.options.getFeatureId;
          features.forEach(function (feature) {
            if (getId) getId(feature); else if (feature.id !== undefined) feature.properties.id = feature.id;
          });
          var tile = { canvas: canvas, features: features, zoom: coords.z, ratio: ratio, ids: {},
                       styles: new Array(features.length), generation: 0 };
          features.forEach(function (feature) { if (feature.id !== undefined) tile.ids[feature.id] = true; });
          self._tileData[key] = tile;
          clear(canvas);
          if (!features.length) { done(null, canvas); return; }
          for (var from = 0; from < features.length; from += SLICE) schedule(self._sliceJob(tile, from, done));
        });
      }).catch(function (error) { done(error, canvas); });
      return canvas;
    },

    /* The tile's bytes: from the layer's PMTiles archive when it has one (options.archive, a
       pmtiles.PMTiles; it inflates the tile), else from the tile endpoint. An archive that
       cannot be read gives way to the endpoint for good. */
    _tileBytes: function (coords, url) {
      var self = this, archive = this.options.archive;
      if (archive) {
        return archive.getZxy(coords.z, coords.x, coords.y).then(function (tile) {
          return tile && tile.data ? tile.data : new ArrayBuffer(0);
        }, function () {
          self.options.archive = null;
          return self._tileBytes(coords, url);
        });
      }
      return fetch(url, this.options.fetchOptions).then(function (response) {
        if (!response.ok) {
          // A 400 names the analysis parameter the server could not use ({"start": "…"}).
          if (response.status === 400) {
            response.json().then(function (body) { self.fire("tilerefused", { body: body }); }, function () {});
          }
          return new ArrayBuffer(0);
        }
        return response.arrayBuffer();
      });
    },

    _styleOf: function (feature, zoom) {
      if (feature.id !== undefined && this._overrides[feature.id]) return this._overrides[feature.id];
      var styler = this.options.vectorTileLayerStyles[feature.layer];
      return typeof styler === "function" ? styler(feature.properties, zoom) : styler;
    },

    /* The step that styles and draws features [from, from + SLICE) of a new tile; the last one
       tells Leaflet the tile is ready. A restyle meanwhile has drawn the whole tile: skipped. */
    _sliceJob: function (tile, from, done) {
      var self = this, generation = tile.generation;
      return function () {
        var to = Math.min(from + SLICE, tile.features.length);
        if (self._map && tile.generation === generation) {
          for (var i = from; i < to; i++) tile.styles[i] = self._styleOf(tile.features[i], tile.zoom);
          paint(tile.canvas, tile.features, tile.styles, tile.ratio, from, to);
        }
        if (to === tile.features.length) done(null, tile.canvas);
      };
    },

    _paintTile: function (tile) {
      var self = this;
      tile.generation += 1;
      tile.styles = tile.features.map(function (feature) { return self._styleOf(feature, tile.zoom); });
      clear(tile.canvas);
      paint(tile.canvas, tile.features, tile.styles, tile.ratio);
    },

    /* Restyle every loaded tile from its decoded features (no new requests). */
    redraw: function () {
      var self = this;
      Object.keys(this._tileData).forEach(function (key) { self._paintTile(self._tileData[key]); });
      return this;
    },

    setFeatureStyle: function (id, style) {
      this._overrides[id] = style;
      return this._redrawTilesOf(id);
    },

    resetFeatureStyle: function (id) {
      delete this._overrides[id];
      return this._redrawTilesOf(id);
    },

    _redrawTilesOf: function (id) {
      var self = this;
      Object.keys(this._tileData).forEach(function (key) {
        if (self._tileData[key].ids[id]) self._paintTile(self._tileData[key]);
      });
      return this;
    },

    /* Ids of the points drawn and of those the style left out, over the loaded tiles (a point
       at a tile's edge, in two tiles, counts once). */
    shownIds: function () {
      var drawnIds = new Set(), hiddenIds = new Set(), self = this;
      Object.keys(this._tileData).forEach(function (key) {
        var tile = self._tileData[key];
        tile.features.forEach(function (feature, i) {
          if (feature.id !== undefined) (drawn(tile.styles[i]) ? drawnIds : hiddenIds).add(feature.id);
        });
      });
      return { drawn: drawnIds, hidden: hiddenIds };
    },

    /* The drawn feature nearest the mouse within its radius (+2 px), or null. */
    _featureAt: function (latlng) {
      var map = this._map, zoom = this._tileZoom, size = this.getTileSize();
      var pixel = map.project(latlng, zoom).unscaleBy(size);
      var coords = new L.Point(Math.floor(pixel.x), Math.floor(pixel.y));
      var best = null, bestDistance = Infinity;
      for (var dx = -1; dx <= 1; dx++) {
        for (var dy = -1; dy <= 1; dy++) {
          var at = coords.add([dx, dy]);
          at.z = zoom;
          var tile = this._tileData[this._tileCoordsToKey(at)];
          if (!tile || !tile.styles) continue;
          var x = (pixel.x - at.x) * size.x, y = (pixel.y - at.y) * size.y;
          tile.features.forEach(function (feature, i) {
            var style = tile.styles[i];
            if (!drawn(style)) return;
            var distance = Math.hypot(feature.x - x, feature.y - y);
            if (distance <= style.radius + 2 && distance < bestDistance) { best = feature; bestDistance = distance; }
          });
        }
      }
      return best;
    },

    _onPointerClick: function (event) {
      var feature = this._featureAt(event.latlng);
      if (!feature) return;
      this.fire("click", { layer: { properties: feature.properties }, latlng: event.latlng, originalEvent: event.originalEvent });
    },

    _onPointerMove: function (event) {
      this._map.getContainer().style.cursor = this._featureAt(event.latlng) ? "pointer" : "";
    },
  });

  GM.PointTiles = PointTiles;
  GM.pointTiles = { decodeTile: decodeTile, paint: paint };
  if (typeof module !== "undefined" && module.exports) module.exports = { decodeTile: decodeTile };
})();
