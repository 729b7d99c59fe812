// Just enough of the DOM for the panel's node building under node: elements, text nodes,
// append / replaceChildren / setAttribute, and an HTML serialiser that escapes text.
"use strict";

class FakeText {
  constructor(text) { this.data = String(text); }
  get textContent() { return this.data; }
}

class FakeElement {
  constructor(tagName) {
    this.tagName = tagName.toUpperCase();
    this.attributes = {};
    this.childNodes = [];
    this.className = "";
    this.hidden = false;
  }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  getAttribute(name) { return name in this.attributes ? this.attributes[name] : null; }
  append(...nodes) {
    for (const node of nodes) this.childNodes.push(typeof node === "string" ? new FakeText(node) : node);
  }
  appendChild(node) { this.append(node); return node; }
  replaceChildren(...nodes) { this.childNodes = []; this.append(...nodes); }
  get children() { return this.childNodes.filter((node) => node instanceof FakeElement); }
  get textContent() { return this.childNodes.map((node) => node.textContent).join(""); }
  set textContent(text) { this.childNodes = [new FakeText(text)]; }
  set innerHTML(html) { throw new Error("innerHTML set to " + html); }
}

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const escape = (text) => text.replace(/[&<>"]/g, (c) => ENTITIES[c]);

function serialise(node) {
  if (node instanceof FakeText) return escape(node.data);
  const tag = node.tagName.toLowerCase();
  const attributes = Object.entries(node.attributes).map(([name, value]) => " " + name + '="' + escape(value) + '"');
  if (node.className) attributes.unshift(' class="' + escape(node.className) + '"');
  return "<" + tag + attributes.join("") + ">" + node.childNodes.map(serialise).join("") + "</" + tag + ">";
}

function install() {
  globalThis.document = { createElement: (tag) => new FakeElement(tag) };
}

module.exports = { FakeElement, FakeText, serialise, install };
