// ESLint (flat config) for the viewer's browser scripts and their node tests: `npx eslint`.
// static/js/*.js are plain scripts (no bundler) sharing window.GroundMotion; the vendored
// libraries in static/vendor are not ours and are not linted.
"use strict";
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  { ignores: ["static/vendor/**", "staticfiles/**", "node_modules/**", ".venv/**", "var/**"] },
  {
    files: ["static/js/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: {
        ...globals.browser,
        L: "readonly", // Leaflet, with Leaflet.draw
        topojson: "readonly",
        module: "readonly", // the `module.exports` footer of the files tests/js loads in node
      },
    },
    rules: {
      ...js.configs.recommended.rules,
      "no-implicit-globals": "error",
      "no-unused-vars": ["error", { args: "none" }],
      eqeqeq: "error",
      strict: ["error", "function"],
      "no-restricted-syntax": [
        "error",
        { selector: "AssignmentExpression > MemberExpression.left[property.name='innerHTML']", message: "Build nodes (GM.el, textContent) instead of innerHTML." },
        { selector: "AssignmentExpression > MemberExpression.left[property.name='outerHTML']", message: "Build nodes instead of outerHTML." },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: "Build nodes instead of insertAdjacentHTML." },
        { selector: "AssignmentExpression > MemberExpression.left:has(Identifier[name='L'])", message: "Leaflet and its plugins are not ours: subclass with .extend() instead of assigning into L." },
      ],
    },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "commonjs",
      globals: { ...globals.node },
    },
    rules: {
      ...js.configs.recommended.rules,
      eqeqeq: "error",
    },
  },
];
