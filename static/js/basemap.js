/* The base map every page's map shares (viewer, download page, admin): online tiles when
   GROUNDMOTION_BASEMAP_URL is set, otherwise the offline outlines shipped in static/vendor.
   config: {basemapUrl, outlinesUrl}, as map_views.basemap_config() gives it. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function add(map, config) {
    if (config.basemapUrl) {
      L.tileLayer(config.basemapUrl, { maxZoom: 19, attribution: "Base map" }).addTo(map);
      return;
    }
    // Offline: country and coast outlines shipped in static (Natural Earth via world-atlas).
    map.createPane("outlines").style.zIndex = 150;
    fetch(config.outlinesUrl).then(function (response) { return response.json(); }).then(function (topology) {
      var countries = topojson.feature(topology, topology.objects.countries);
      L.geoJSON(countries, {
        pane: "outlines", interactive: false,
        style: { color: "#777", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 },
      }).addTo(map);
    });
  }

  GM.basemap = { add: add };
})();
