/* The search box: "lat, lon" centres the map; anything else is a point id in the current dataset. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});

  function search(viewer, text) {
    var match = text.trim().match(/^(-?\d+(?:\.\d+)?)\s*[,\s]\s*(-?\d+(?:\.\d+)?)$/);
    if (match) {
      viewer.map.setView([parseFloat(match[1]), parseFloat(match[2])], Math.max(viewer.map.getZoom(), viewer.config.pointZoom));
      return Promise.resolve(true);
    }
    var url = viewer.config.apiUrl + "datasets/" + encodeURIComponent(viewer.dataset) + "/points/?pid=" + encodeURIComponent(text.trim());
    return fetch(url, { credentials: "same-origin" }).then(function (response) { return response.ok ? response.json() : { points: [] }; })
      .then(function (body) {
        if (!body.points.length) { viewer.panel.open("Search", GM.panelMessage("error", "No point " + text + " here.")); return false; }
        var point = body.points[0];
        viewer.map.setView([point.lat, point.lon], Math.max(viewer.map.getZoom(), viewer.config.pointZoom));
        viewer.select([point.id], false);
        return true;
      });
  }

  function setUp(viewer) {
    document.getElementById("search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      search(viewer, document.getElementById("search-text").value);
    });
  }

  GM.placeSearch = { setUp: setUp, search: search };
})();
