/* The admin's map widgets (dataset extent and reference area, masked areas): the shared base
   map, each dataset's extent and its points or cells from /tiles/, under the field's own
   drawing tools. The page hands over {basemap, datasets: [{slug, extent}], tileUrl} in
   #gm-admin-map (groundmotion/admin.py). */
(function () {
  "use strict";
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});

  // The viewer's default scale (legend.js): -10..10 mm/yr, red away, blue towards / up.
  function velocityColour(velocity) {
    return GM.colourScale.colourFor(velocity, 10, false);
  }

  function pointStyle(properties) {
    var colour = velocityColour(properties.velocity);
    return { radius: 3, fill: true, fillColor: colour, fillOpacity: 0.9, stroke: true, color: "#666", weight: 0.5 };
  }

  function cellStyle(properties) {
    return { radius: 3, fill: true, fillColor: velocityColour(properties.velocity), fillOpacity: 0.8, stroke: false };
  }

  function tiles(config, dataset) {
    var url = config.tileUrl.replace("{slug}", encodeURIComponent(dataset.slug));
    return new GM.PointTiles(url, {
      vectorTileLayerStyles: { points: pointStyle, cells: cellStyle },
      interactive: false, maxNativeZoom: 18, fetchOptions: { credentials: "same-origin" },
    });
  }

  function setUp(map, fieldId) {
    var holder = document.getElementById("gm-admin-map");
    if (!holder) return;
    var config = JSON.parse(holder.textContent);
    GM.basemap.add(map, config.basemap);
    var extents = L.featureGroup().addTo(map);
    config.datasets.forEach(function (dataset) {
      tiles(config, dataset).addTo(map);
      if (!dataset.extent) return;
      var e = dataset.extent;
      L.rectangle([[e[1], e[0]], [e[3], e[2]]], {
        color: "#5a3d8a", weight: 2, dashArray: "6 4", fill: false, interactive: false,
      }).addTo(extents);
    });
    var field = document.getElementById(fieldId);
    if ((!field || !field.value.trim()) && extents.getLayers().length) {
      map.fitBounds(extents.getBounds(), { padding: [20, 20], maxZoom: 15 });
    }
    map.getContainer().setAttribute("data-gm-admin-map", "ready");
  }

  GM.adminMap = { setUp: setUp, velocityColour: velocityColour };
})();
