/* What an analysis change does to the page: tiles asked again with it, the legend's words, the
   reference point's marker, the panel's point and profile asked again, the URL. The controls
   themselves are analysis-controls.js. */
(function () {
  "use strict";
  var GM = (window.GroundMotion = window.GroundMotion || {});
  // A diamond, unlike the round points, the selection ring and the GNSS and reflector symbols.
  var MARKER_ICON = typeof L === "undefined" ? null
    : L.divIcon({ className: "reference-marker", iconSize: [20, 20], html: "<span></span>" });

  function clean(analysis) {
    var result = {};
    Object.keys(analysis).forEach(function (key) {
      if (analysis[key] !== null && analysis[key] !== undefined && analysis[key] !== "") result[key] = analysis[key];
    });
    if (!(result.start && result.end)) { delete result.start; delete result.end; delete result.changes; }
    return result;
  }

  function showWords(viewer) {
    var dataset = GM.pointPanel.currentDataset(viewer);
    var label = dataset.quantity ? dataset.quantity.velocity_label : undefined;
    viewer.legend.setAnalysis(GM.analysis.words(viewer.analysis, label, viewer.referencePoint && viewer.referencePoint.pid));
  }

  /* The reference's marker, from its point detail (pid, lon, lat); a reference that is gone or
     hidden from the user is dropped with a word in the controls. */
  function showReference(viewer) {
    var id = viewer.analysis.reference;
    if (viewer.referenceMarker) { viewer.referenceMarker.remove(); viewer.referenceMarker = null; }
    if (!id) { viewer.referencePoint = null; viewer.analysisControls.show(viewer.analysis, null); showWords(viewer); return; }
    fetch(viewer.config.apiUrl + "points/" + encodeURIComponent(id) + "/", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (point) {
        if (viewer.analysis.reference !== id) return; // changed meanwhile
        if (!point) {
          apply(viewer, { reference: null });
          viewer.analysisControls.refused({ reference: "point " + id + " is not visible to you" });
          return;
        }
        viewer.referencePoint = point;
        viewer.referenceMarker = L.marker([point.lat, point.lon], { icon: MARKER_ICON, interactive: false, keyboard: false })
          .addTo(viewer.map);
        viewer.referenceMarker.getElement().setAttribute("title", "Reference: point " + point.pid);
        viewer.analysisControls.show(viewer.analysis, point.pid);
        showWords(viewer);
      });
  }

  /* Merge `change` into viewer.analysis and bring everything that depends on it up to date. */
  function apply(viewer, change) {
    var before = viewer.analysis.reference;
    viewer.analysis = clean(Object.assign({}, viewer.analysis, change));
    viewer.analysisControls.show(viewer.analysis);
    showWords(viewer);
    if (viewer.analysis.reference !== before) showReference(viewer);
    if (viewer.dataset) viewer.reloadLayer();
    // The panel shows a profile or the selected points: whichever it is, asked again.
    if (viewer.panel.isProfile) GM.profileTool.refresh(viewer);
    else if (viewer.selected.length) viewer.select(viewer.selected, false);
    viewer.saveState();
  }

  function setUp(viewer, initial) {
    viewer.analysis = clean(initial || {});
    viewer.analysisControls = new GM.AnalysisControls(document.getElementById("analysis"), function (change) { apply(viewer, change); });
    viewer.analysisControls.show(viewer.analysis);
    viewer.setAnalysis = function (change) { apply(viewer, change); };
    showWords(viewer);
  }

  /* A layer was shown: its acquisition dates on the slider, the reference and words anew. */
  function datasetShown(viewer) {
    var slug = viewer.dataset;
    showWords(viewer);
    showReference(viewer);
    GM.analysis.datesOf(viewer, slug).then(function (dates) {
      if (viewer.dataset === slug) viewer.analysisControls.setDates(dates);
    });
  }

  GM.analysisViewer = { setUp: setUp, datasetShown: datasetShown, apply: apply };
})();
