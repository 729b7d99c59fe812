/* A GNSS station against the current layer: a button in the station's popup asks
   /api/gnss-stations/<network>/<code>/compare/ and shows, in the side panel, the station's
   velocity in the layer's direction beside the mean of the layer's points around it, with a
   circle of the radius on the map; then .../series/ for the station's position series in that
   direction, charted against the points' mean series (series-chart.js), the RMSE of their
   difference in the legend. formatComparison and seriesForChart are pure
   (tests/js/gnss-compare.test.js, tests/js/gnss-series.test.js). */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var RADIUS_M = 200;

  function withStd(value, std) {
    if (value === null || value === undefined) return "n/a";
    var text = (value >= 0 ? "+" : "") + value.toFixed(2);
    return std === null || std === undefined ? text : text + " ± " + std.toFixed(2);
  }

  /* The comparison's rows: [label, value] pairs, all text. */
  function formatComparison(body) {
    var points = body.points, short = body.quantity.short;
    var rows = [
      ["Station " + body.station.code + " (" + (body.station.reference_frame || "frame not given") + "), " + short,
        withStd(body.station_velocity, body.station_velocity_std) + " mm/yr"],
      [points.count + " points within " + body.radius_m + " m, mean",
        points.count ? withStd(points.mean_velocity, points.mean_standard_error) + " mm/yr" : "no points"],
      ["Spread of the points' velocities", points.velocity_spread === null ? "n/a" : points.velocity_spread.toFixed(2) + " mm/yr"],
      ["Points minus station", withStd(body.difference, body.difference_std) + " mm/yr"],
    ];
    if (body.station_velocity === null) rows[0][1] = "no LOS direction: no points with a look vector here";
    return rows;
  }

  /* The chart's series from a .../series/ answer: the points' mean, then the station shifted
     onto it by their mean difference, whose legend note gives the RMSE of the difference. */
  function seriesForChart(body) {
    var rmse = body.difference_rmse_mm;
    return [
      { label: "mean of " + body.points_count + " points", note: "within " + body.radius_m + " m",
        dates: body.dates, values: body.points_mean, fitted: null, std: null },
      { label: "GNSS " + body.station.code + " (" + body.quantity.short + ")",
        note: rmse === null || rmse === undefined ? "no date in common" :
          "RMSE " + rmse.toFixed(1) + " mm over " + body.common_count + (body.common_count === 1 ? " date" : " dates"),
        dates: body.dates, values: body.station_series, fitted: null, std: null },
    ];
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, status: response.status, body: body }; });
    });
  }

  /* Below the comparison: the series chart, or why there is none. */
  function showSeries(viewer, url, title) {
    return getJson(url).then(function (answer) {
      if (viewer.panel.title.textContent !== title) return; // another panel opened meanwhile
      var body = answer.body;
      if (!answer.ok) {
        var words = answer.status === 404 ? "No position series is stored for this station." : body.detail || "No series chart.";
        viewer.panel.body.appendChild(GM.panelMessage("hint", words));
      } else if (!body.points_count) {
        viewer.panel.body.appendChild(GM.panelMessage("hint", "No points of this layer within " + body.radius_m + " m: no series chart."));
      } else {
        GM.seriesChart.render(viewer.panel.chart, seriesForChart(body), { yLabel: body.quantity.displacement_label });
        viewer.panel.body.appendChild(GM.panelMessage("hint", "Chart: the station's daily position along the layer's direction " +
          "at the layer's dates (nearest day within 6 days), shifted onto the points' mean by their mean difference."));
      }
    });
  }

  function show(viewer, properties, latlng) {
    var dataset = viewer.dataset;
    var stationUrl = viewer.config.apiUrl + "gnss-stations/" + encodeURIComponent(properties.network) + "/" +
      encodeURIComponent(properties.code) + "/";
    var query = "?dataset=" + encodeURIComponent(dataset) + "&radius_m=" + RADIUS_M;
    var url = stationUrl + "compare/" + query;
    if (viewer.compareCircle) viewer.compareCircle.remove();
    viewer.compareCircle = L.circle(latlng, { radius: RADIUS_M, color: "#000", weight: 1.5, dashArray: "4 3", fill: false, interactive: false })
      .addTo(viewer.map);
    var circle = viewer.compareCircle;
    viewer.panel.element.querySelector(".panel-close").addEventListener("click", function () { circle.remove(); }, { once: true });
    return getJson(url).then(function (answer) {
      var title = "GNSS " + properties.code + " against this layer";
      if (!answer.ok) {
        viewer.panel.open(title, GM.panelMessage("error", answer.body.detail || "This layer cannot be compared."));
        return;
      }
      var table = GM.el("table", { className: "gnss-compare" }, formatComparison(answer.body).map(function (row) {
        return GM.el("tr", null, [GM.el("th", { scope: "row" }, row[0]), GM.el("td", null, row[1])]);
      }));
      var nodes = [table, GM.panelMessage("hint", "Sign: " + answer.body.quantity.sign_convention + ".")];
      if (answer.body.note) nodes.push(GM.panelMessage("hint", answer.body.note));
      viewer.panel.open(title, nodes);
      return showSeries(viewer, stationUrl + "series/" + query, title);
    });
  }

  /* Adds the button to every GNSS popup that opens (the popup's marker carries the feature). */
  function setUp(viewer) {
    viewer.map.on("popupopen", function (event) {
      var source = event.popup._source, content = event.popup.getContent();
      var properties = source && source.feature && source.feature.properties;
      if (!properties || properties.velocity_up === undefined || !(content instanceof Element)) return;
      if (content.querySelector(".gnss-compare-button")) return;
      var button = GM.el("button", { type: "button", className: "gnss-compare-button" }, "Compare with this layer");
      button.addEventListener("click", function () { show(viewer, properties, source.getLatLng()); });
      content.appendChild(GM.el("p", null, button));
      event.popup.update();
    });
  }

  GM.gnssCompare = { setUp: setUp, formatComparison: formatComparison, seriesForChart: seriesForChart };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.gnssCompare;
})();
