/* The search box: "lat, lon" centres the map; a point id of the current dataset selects the
   point; anything else lists towns (/api/places/, and the GROUNDMOTION_GEOCODER_URL when set)
   under the box. Typing lists, arrow keys move, Enter or a click goes there. Text from the
   server and the user goes in as text nodes, never as HTML. */
(function () {
  "use strict";
  var GM = (globalThis.GroundMotion = globalThis.GroundMotion || {});
  var MAX_RESULTS = 10;
  var COORDINATES = /^(-?\d+(?:\.\d+)?)\s*[,\s]\s*(-?\d+(?:\.\d+)?)$/;

  // Point ids are one word with a digit (EGMS "1HBqP9xyHE", the demo's "ASC000007").
  function looksLikePid(text) {
    return /^\S+$/.test(text) && /\d/.test(text);
  }

  // A zoom that shows a town whole: larger towns need less.
  function zoomFor(population) {
    if (population >= 1e6) return 11;
    if (population >= 1e5) return 12;
    return 13;
  }

  function fold(text) {
    return String(text).normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }

  // Nominatim-style answers as places; boundingbox is [south, north, west, east] as strings.
  function fromGeocoder(rows) {
    return (Array.isArray(rows) ? rows : []).map(function (row) {
      var box = row.boundingbox && row.boundingbox.map(Number);
      return {
        name: String(row.display_name || row.name || "").split(",")[0],
        detail: String(row.display_name || ""),
        lat: Number(row.lat), lon: Number(row.lon),
        bounds: box && box.every(isFinite) ? [[box[0], box[2]], [box[1], box[3]]] : null,
      };
    }).filter(function (place) { return place.name && isFinite(place.lat) && isFinite(place.lon); });
  }

  // Gazetteer first, keeping room for up to REMOTE_ROOM geocoder answers; an answer naming a
  // town already listed within ~5 km is left out.
  var REMOTE_ROOM = 3;
  function merge(local, remote) {
    var fresh = remote.filter(function (place) {
      return !local.some(function (known) {
        return fold(known.name) === fold(place.name) && Math.abs(known.lat - place.lat) < 0.05 && Math.abs(known.lon - place.lon) < 0.05;
      });
    }).slice(0, REMOTE_ROOM);
    var first = local.slice(0, MAX_RESULTS - fresh.length);
    return first.concat(fresh, local.slice(first.length)).slice(0, MAX_RESULTS);
  }

  function getJSON(url, options) {
    return fetch(url, options).then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  function findPlaces(config, text) {
    var local = getJSON(config.placesUrl + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
      .then(function (body) {
        return ((body && body.places) || []).map(function (place) {
          var detail = place.country + (place.population ? ", " + place.population.toLocaleString("en") + " people" : "");
          return { name: place.name, detail: detail, lat: place.lat, lon: place.lon, population: place.population };
        });
      });
    var remote = config.geocoderUrl
      ? getJSON(config.geocoderUrl.replace("{q}", encodeURIComponent(text)), { credentials: "omit" }).then(fromGeocoder)
      : Promise.resolve([]);
    return Promise.all([local, remote]).then(function (both) { return merge(both[0], both[1]); });
  }

  function findPoint(viewer, text) {
    if (!viewer.dataset) return Promise.resolve(null);
    var url = viewer.config.apiUrl + "datasets/" + encodeURIComponent(viewer.dataset) + "/points/?pid=" + encodeURIComponent(text);
    return getJSON(url, { credentials: "same-origin" }).then(function (body) {
      var point = body && body.points && body.points[0];
      return point ? { point: point, name: "Point " + (point.pid || text), detail: "in this layer", lat: point.lat, lon: point.lon } : null;
    });
  }

  // Everything the text may name, the point first when it looks like a point id.
  function find(viewer, text) {
    var point = looksLikePid(text) ? findPoint(viewer, text) : Promise.resolve(null);
    return Promise.all([point, findPlaces(viewer.config, text)]).then(function (both) {
      if (both[0] || both[1].length || !/^\S+$/.test(text)) return both[0] ? [both[0]].concat(both[1]) : both[1];
      return findPoint(viewer, text).then(function (found) { return found ? [found] : []; });
    });
  }

  function go(viewer, result) {
    var map = viewer.map;
    if (result.point) {
      map.setView([result.lat, result.lon], Math.max(map.getZoom(), viewer.config.pointZoom));
      viewer.select([result.point.id], false);
    } else if (result.bounds) {
      map.fitBounds(result.bounds, { maxZoom: 14 });
    } else {
      map.setView([result.lat, result.lon], zoomFor(result.population || 0));
    }
  }

  function ResultList(element, input, onPick) {
    this.element = element;
    this.input = input;
    this.onPick = onPick;
    this.results = [];
    this.active = -1;
    var style = element.style;
    style.listStyle = "none";
    style.margin = "2px 0 8px";
    style.padding = "0";
    style.border = "1px solid #ccc";
    style.background = "#fff";
    style.maxHeight = "280px";
    style.overflowY = "auto";
    input.setAttribute("aria-controls", element.id);
    input.setAttribute("aria-autocomplete", "list");
  }

  ResultList.prototype.show = function (results, text) {
    var self = this;
    this.results = results;
    this.active = results.length ? 0 : -1;
    this.element.replaceChildren();
    if (!results.length) {
      this.element.appendChild(GM.el("li", { className: "search-none", role: "status" }, "No place or point named " + text + "."));
    }
    results.forEach(function (result, index) {
      var item = GM.el("li", { id: "search-result-" + index, role: "option", className: "search-result" },
        [GM.el("b", null, result.name), result.detail ? " " + result.detail : ""]);
      item.style.padding = "3px 6px";
      item.style.cursor = "pointer";
      item.addEventListener("mousedown", function (event) { event.preventDefault(); self.pick(index); });
      self.element.appendChild(item);
    });
    this.element.hidden = false;
    this.highlight();
  };

  ResultList.prototype.hide = function () {
    this.element.hidden = true;
    this.results = [];
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
  };

  ResultList.prototype.move = function (step) {
    if (!this.results.length) return;
    this.active = (this.active + step + this.results.length) % this.results.length;
    this.highlight();
  };

  ResultList.prototype.highlight = function () {
    var active = this.active;
    Array.prototype.forEach.call(this.element.querySelectorAll(".search-result"), function (item, index) {
      item.setAttribute("aria-selected", String(index === active));
      item.style.background = index === active ? "#dde8f3" : "";
    });
    if (active >= 0) this.input.setAttribute("aria-activedescendant", "search-result-" + active);
  };

  ResultList.prototype.pick = function (index) {
    var result = this.results[index];
    if (!result) return;
    this.hide();
    this.onPick(result);
  };

  function setUp(viewer) {
    var form = document.getElementById("search-form");
    var input = document.getElementById("search-text");
    var listElement = document.getElementById("search-results");
    if (!listElement) {
      listElement = GM.el("ul", { id: "search-results", className: "search-results", role: "listbox", "aria-label": "Places found" });
      listElement.hidden = true;
      form.after(listElement);
    }
    var list = new ResultList(listElement, input, function (result) { go(viewer, result); });
    input.placeholder = "Town, lat, lon or point id";
    var listedFor = null;
    var timer = null;
    var asked = 0;

    function suggest(text) {
      var ticket = ++asked;
      find(viewer, text).then(function (results) {
        if (ticket !== asked || input.value.trim() !== text) return;
        listedFor = text;
        list.show(results, text);
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      window.clearTimeout(timer);
      if (listedFor === text && list.results.length && !list.element.hidden) {
        list.pick(list.active);
        return;
      }
      search(viewer, text).then(function () { list.hide(); });
    });
    input.addEventListener("input", function () {
      var text = input.value.trim();
      window.clearTimeout(timer);
      listedFor = null;
      if (text.length < 2 || COORDINATES.test(text)) { list.hide(); return; }
      timer = window.setTimeout(function () { suggest(text); }, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (list.element.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); list.move(1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); list.move(-1); }
      else if (event.key === "Escape") { list.hide(); }
    });
    input.addEventListener("blur", function () { window.setTimeout(function () { list.hide(); }, 150); });
  }

  // Enter without a list: coordinates, else the first thing the text names.
  function search(viewer, text) {
    text = text.trim();
    var match = text.match(COORDINATES);
    if (match) {
      viewer.map.setView([parseFloat(match[1]), parseFloat(match[2])], Math.max(viewer.map.getZoom(), viewer.config.pointZoom));
      return Promise.resolve(true);
    }
    if (!text) return Promise.resolve(false);
    return find(viewer, text).then(function (results) {
      if (!results.length) {
        viewer.panel.open("Search", GM.panelMessage("error", "No place or point named " + text + "."));
        return false;
      }
      go(viewer, results[0]);
      return true;
    });
  }

  GM.placeSearch = { setUp: setUp, search: search, looksLikePid: looksLikePid, zoomFor: zoomFor, merge: merge, fromGeocoder: fromGeocoder };
  if (typeof module !== "undefined" && module.exports) module.exports = GM.placeSearch;
})();
