// GM.escapeHtml and the panel's DOM building (static/js/point-panel.js): outside text stays text.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fakeDom = require("./fake-dom.js");

fakeDom.install();
const panel = require("../../static/js/point-panel.js");
const HOSTILE = '<img src=x onerror="alert(1)">';

test("escapeHtml replaces the five HTML-special characters", () => {
  assert.equal(panel.escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
  assert.equal(panel.escapeHtml(HOSTILE), "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  assert.equal(panel.escapeHtml("a & b's <tag>"), "a &amp; b&#39;s &lt;tag&gt;");
});

test("escapeHtml escapes once: entities already there are escaped again, not trusted", () => {
  assert.equal(panel.escapeHtml("&amp;"), "&amp;amp;");
  assert.equal(panel.escapeHtml(panel.escapeHtml("<")), "&amp;lt;");
});

test("escapeHtml leaves plain text alone and stringifies other values", () => {
  assert.equal(panel.escapeHtml("ASC000007 é ü · 1.5 mm/yr"), "ASC000007 é ü · 1.5 mm/yr");
  assert.equal(panel.escapeHtml(42), "42");
  assert.equal(panel.escapeHtml(null), "null");
  assert.equal(panel.escapeHtml(""), "");
});

test("el makes strings text nodes, never markup", () => {
  const node = panel.el("p", { className: "error", "data-count": 3 }, ["No point ", HOSTILE, null, " here."]);
  assert.equal(node.children.length, 0);
  assert.equal(node.textContent, "No point " + HOSTILE + " here.");
  assert.equal(fakeDom.serialise(node),
    '<p class="error" data-count="3">No point &lt;img src=x onerror=&quot;alert(1)&quot;&gt; here.</p>');
  assert.equal(panel.el("p", { className: null }).className, "");
});

test("pointLinks: the pid is text, the links go to the point's files", () => {
  const item = panel.pointLinks("/api/", { id: 17, pid: HOSTILE, velocity: -1.234 });
  assert.equal(fakeDom.serialise(item),
    "<li><b>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</b> -1.23 mm/yr · " +
    '<a href="/api/points/17/plot.png">PNG</a> · <a href="/api/points/17/plot.svg">SVG</a> · ' +
    '<a href="/api/points/17/series.csv">CSV</a></li>');
  assert.deepEqual(item.children.map((child) => child.tagName), ["B", "A", "A", "A"]);
});

test("pointLinks: no velocity, no 'mm/yr'", () => {
  const item = panel.pointLinks("/api/", { id: 3, pid: "ASC000003", velocity: null });
  assert.equal(item.textContent, "ASC000003  · PNG · SVG · CSV");
});

test("Panel.open shows a string as text and replaces the previous content", () => {
  const parts = { ".panel-title": new fakeDom.FakeElement("h2"), ".panel-body": new fakeDom.FakeElement("div"),
                  ".panel-chart": new fakeDom.FakeElement("div"), ".panel-close": { addEventListener() {} } };
  const element = new fakeDom.FakeElement("aside");
  element.hidden = true;
  element.querySelector = (selector) => parts[selector];
  const shown = new panel.Panel(element);
  shown.open("Point " + HOSTILE, HOSTILE);
  assert.equal(element.hidden, false);
  assert.equal(parts[".panel-title"].textContent, "Point " + HOSTILE);
  assert.equal(parts[".panel-body"].children.length, 0);
  assert.equal(parts[".panel-body"].textContent, HOSTILE);
  shown.open("Cell", [panel.el("p", null, "one"), panel.el("p", null, "two")]);
  assert.equal(fakeDom.serialise(parts[".panel-body"]), "<div><p>one</p><p>two</p></div>");
});
