/* The analysis controls of the map: the period (two linked sliders over the layer's acquisition
   dates), the reference point (set from the point panel, removed here) and the changes layer
   (period − whole-window velocity, points beyond k sigmas).
   The state is viewer.analysis = {start?, end?, reference?, changes?} (url-state.js keeps it in
   the hash; analysis-viewer.js applies a change); query, words, nearestIndex and spacedDates are pure. */
(function () {
  "use strict";
  // globalThis is window in the browser; under node nothing else is touched at load time.
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var DEFAULT_K = 2;
  var DAY_MS = 86400000;
  var MIN_ACQUISITIONS = 3;
  var COMMIT_PAUSE_MS = 250;

  /* "start=…&end=…&reference=…" (leading "?" when not empty) for the parts of `analysis` that
     `use` names, from "start", "end", "reference", "changes"; `extra` ({name: value}) is added. */
  function query(analysis, use, extra) {
    var parts = [];
    var a = analysis || {};
    var add = function (name, value) {
      if (value !== null && value !== undefined && value !== "") parts.push(name + "=" + encodeURIComponent(value));
    };
    (use || ["start", "end", "reference", "changes"]).forEach(function (name) {
      if (name === "start" || name === "end") { if (a.start && a.end) add(name, a[name]); }
      else if (name === "changes") { if (a.changes && a.start && a.end) add(name, a.changes); }
      else add(name, a[name]);
    });
    Object.keys(extra || {}).forEach(function (name) { add(name, extra[name]); });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /* The legend's words for an analysis, {title, note} (legend.js setAnalysis), or null when the
     stored velocity is shown (title null: the quantity's; note "" : none), e.g. note
     "velocity 2021-01-03 – 2022-06-30 · relative to point ASC12". */
  function words(analysis, velocityLabel, referencePid) {
    var a = analysis || {}, notes = [], title = null;
    if (a.changes && a.start && a.end) {
      title = "period − whole-window velocity (mm/yr)";
      notes.push("period " + a.start + " – " + a.end + ", points with |change| ≥ " + a.changes + " σ");
    } else if (a.start && a.end) {
      notes.push("velocity " + a.start + " – " + a.end);
    }
    if (a.reference) notes.push("relative to point " + (referencePid || a.reference));
    return { title: title, note: notes.join(" · ") };
  }

  /* Index of the date in `dates` (ISO strings, ascending) nearest to `date` (ISO). */
  function nearestIndex(dates, date) {
    var target = Date.parse(date + "T00:00:00Z"), best = 0;
    dates.forEach(function (d, i) {
      if (Math.abs(Date.parse(d + "T00:00:00Z") - target) < Math.abs(Date.parse(dates[best] + "T00:00:00Z") - target)) best = i;
    });
    return best;
  }

  /* `count` dates evenly spaced from first to last (ISO, rounded to the day): the slider's steps
     when the page knows a layer's first and last date and their number, not each date (the
     server takes the acquisitions between start and end, whatever the exact days). */
  function spacedDates(first, last, count) {
    var start = Date.parse(first + "T00:00:00Z"), end = Date.parse(last + "T00:00:00Z"), dates = [];
    for (var i = 0; i < count; i++) {
      var t = count > 1 ? start + Math.round(((end - start) * i) / (count - 1) / DAY_MS) * DAY_MS : start;
      dates.push(new Date(t).toISOString().slice(0, 10));
    }
    return dates;
  }

  function el(tag, attributes, children) { return GM.el(tag, attributes, children); }

  /* The controls in `element` (a fieldset); onChange({start?, end?, reference?, changes?}) with
     the keys that changed (null: removed). */
  function Controls(element, onChange) {
    this.element = element;
    this.onChange = onChange;
    this.analysis = {};
    this.dates = [];
    this.build();
  }

  Controls.prototype.build = function () {
    var self = this;
    this.startInput = el("input", { type: "range", id: "period-start", min: "0", max: "0", step: "1", value: "0", "aria-label": "Period start" });
    this.endInput = el("input", { type: "range", id: "period-end", min: "0", max: "0", step: "1", value: "0", "aria-label": "Period end" });
    this.periodLabel = el("div", { className: "period-label", id: "period-label" });
    this.wholeButton = el("button", { type: "button", id: "period-whole" }, "Whole period");
    this.referenceText = el("p", { className: "reference-text" });
    this.removeReference = el("button", { type: "button", id: "reference-remove" }, "Remove reference");
    this.referenceLine = el("div", { className: "reference-line", id: "reference-line", hidden: "" },
      [this.referenceText, this.removeReference]);
    this.changesInput = el("input", { type: "checkbox", id: "changes-toggle" });
    this.kInput = el("input", { type: "number", id: "changes-k", min: "0.5", max: "10", step: "0.5", value: String(DEFAULT_K),
                                "aria-label": "k, in sigmas" });
    this.changesNote = el("p", { className: "hint", id: "changes-note" });
    this.element.replaceChildren(
      el("legend", null, "Analysis"),
      el("div", { className: "period-label-row" }, [el("span", null, "Period"), this.wholeButton]),
      el("div", { className: "period-sliders" }, [this.startInput, this.endInput]),
      this.periodLabel,
      this.referenceLine,
      el("label", { className: "changes-row" }, [this.changesInput, "Changes ≥", this.kInput, "σ"]),
      this.changesNote);
    // The dates follow the thumbs while dragged; the tiles are asked again on release.
    var moved = function (which) {
      var s = Number(self.startInput.value), e = Number(self.endInput.value);
      if (s > e) { if (which === "start") self.endInput.value = String(s); else self.startInput.value = String(e); }
      self.showPeriodLabel();
    };
    this.startInput.addEventListener("input", function () { clearTimeout(self.pending); moved("start"); });
    this.endInput.addEventListener("input", function () { clearTimeout(self.pending); moved("end"); });
    // Both thumbs set in quick succession ask for the tiles once.
    var commit = function () {
      clearTimeout(self.pending);
      self.pending = setTimeout(function () { self.commitPeriod(); }, COMMIT_PAUSE_MS);
    };
    this.startInput.addEventListener("change", commit);
    this.endInput.addEventListener("change", commit);
    this.wholeButton.addEventListener("click", function () { self.onChange({ start: null, end: null, changes: null }); });
    this.removeReference.addEventListener("click", function () { self.onChange({ reference: null }); });
    this.changesInput.addEventListener("change", function () { self.commitChanges(); });
    this.kInput.addEventListener("change", function () { if (self.changesInput.checked) self.commitChanges(); });
  };

  /* The slider positions as a period; null when they span every date (the whole window). */
  Controls.prototype.sliderPeriod = function () {
    var s = Number(this.startInput.value), e = Number(this.endInput.value), last = this.dates.length - 1;
    // A period velocity needs three acquisitions (the server refuses fewer): widen to them.
    if (Math.abs(e - s) < MIN_ACQUISITIONS - 1 && last >= MIN_ACQUISITIONS - 1) {
      e = Math.min(Math.min(s, e) + MIN_ACQUISITIONS - 1, last);
      s = e - (MIN_ACQUISITIONS - 1);
    }
    if (!this.dates.length || (s === 0 && e === this.dates.length - 1)) return null;
    return { start: this.dates[Math.min(s, e)], end: this.dates[Math.max(s, e)] };
  };

  Controls.prototype.commitPeriod = function () {
    var period = this.sliderPeriod();
    if (!period) this.onChange({ start: null, end: null, changes: null });
    else this.onChange({ start: period.start, end: period.end });
  };

  Controls.prototype.commitChanges = function () {
    var analysis = this.analysis;
    if (!this.changesInput.checked) { this.onChange({ changes: null }); return; }
    if (!(analysis.start && analysis.end)) {
      this.changesInput.checked = false;
      this.changesNote.textContent = "Choose a period first: the changes layer compares a period with the whole window.";
      this.changesNote.className = "hint error";
      return;
    }
    var k = parseFloat(this.kInput.value);
    this.onChange({ changes: k > 0 ? k : DEFAULT_K });
  };

  /* The layer's acquisition dates (ISO, ascending); the sliders span them. */
  Controls.prototype.setDates = function (dates) {
    this.dates = dates || [];
    var max = String(Math.max(0, this.dates.length - 1));
    this.startInput.max = max;
    this.endInput.max = max;
    this.show(this.analysis, this.referencePid);
  };

  Controls.prototype.showPeriodLabel = function () {
    var period = this.sliderPeriod();
    if (!this.dates.length) this.periodLabel.textContent = "dates loading…";
    else if (!period) this.periodLabel.textContent = "whole window, " + this.dates[0] + " – " + this.dates[this.dates.length - 1];
    else this.periodLabel.textContent = period.start + " – " + period.end;
  };

  /* Shows `analysis` in the controls without calling back. */
  Controls.prototype.show = function (analysis, referencePid) {
    var a = (this.analysis = analysis || {}), last = Math.max(0, this.dates.length - 1);
    if (a.start && a.end && this.dates.length) {
      this.startInput.value = String(nearestIndex(this.dates, a.start));
      this.endInput.value = String(nearestIndex(this.dates, a.end));
    } else {
      this.startInput.value = "0";
      this.endInput.value = String(last);
    }
    this.showPeriodLabel();
    this.wholeButton.disabled = !(a.start && a.end);
    this.referenceLine.hidden = !a.reference;
    if (referencePid !== undefined) this.referencePid = referencePid;
    if (!a.reference) this.referencePid = null;
    this.referenceText.textContent = a.reference
      ? "Relative to point " + (this.referencePid || a.reference) + "." : "";
    this.changesInput.checked = Boolean(a.changes);
    if (a.changes) this.kInput.value = String(a.changes);
    this.changesNote.className = "hint";
    this.changesNote.textContent = a.start && a.end ? "Period − whole-window velocity, for the points whose change is k σ or more."
      : "The changes layer needs a period.";
  };

  /* The server refused the tiles (a 400 naming the parameter, {"start": "…"}): said in the note. */
  Controls.prototype.refused = function (body) {
    this.changesNote.className = "hint error";
    this.changesNote.textContent = Object.keys(body || {}).map(function (key) { return key + ": " + body[key]; }).join("; ")
      || "The server refused these tiles.";
  };

  /* A promise of the layer's dates (ISO): the config's or /api/datasets/'s acquisition_dates
     when they are listed, else every day from its first to its last date. */
  function datesOf(viewer, slug) {
    var known = (viewer.knownDates = viewer.knownDates || {});
    var dataset = viewer.config.datasets.filter(function (d) { return d.slug === slug; })[0] || {};
    if (dataset.acquisition_dates) known[slug] = dataset.acquisition_dates;
    if (known[slug]) return Promise.resolve(known[slug]);
    return fetch(viewer.config.apiUrl + "datasets/", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { datasets: [] }; })
      .then(function (body) {
        (body.datasets || []).forEach(function (d) {
          if (d.acquisition_dates) known[d.slug] = d.acquisition_dates;
          else if (!known[d.slug] && d.first_date && d.last_date) known[d.slug] = spacedDates(d.first_date, d.last_date, d.date_count);
        });
        return known[slug] || [];
      });
  }

  GM.AnalysisControls = Controls;
  GM.analysis = { datesOf: datesOf, query: query, words: words, nearestIndex: nearestIndex, spacedDates: spacedDates,
                  DEFAULT_K: DEFAULT_K };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.analysis;
})();
