// JSON shown folded and unfolded: each object and array is a <details> a reader opens or closes.

import { h } from "./dom.js";

const OPEN_DEPTH = 2;
const MAX_CHILDREN = 500;

/** A value as a tree of <details>, the first levels open. */
export function jsonTree(value, depth = 0) {
  if (value === undefined) return h("span", { className: "json-none" }, "none");
  if (value === null || typeof value !== "object") return h("span", { className: `json-${value === null ? "null" : typeof value}` }, JSON.stringify(value));
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
  const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return h("span", { className: "json-empty" }, brackets.join(""));
  const summary = `${brackets[0]} ${entries.length} ${Array.isArray(value) ? (entries.length === 1 ? "item" : "items") : entries.length === 1 ? "key" : "keys"} ${brackets[1]}`;
  return h(
    "details",
    { className: "json", open: depth < OPEN_DEPTH },
    h("summary", {}, summary),
    h(
      "ul",
      {},
      entries.slice(0, MAX_CHILDREN).map(([key, item]) => h("li", {}, h("span", { className: "json-key" }, Array.isArray(value) ? `${key}: ` : `${JSON.stringify(key)}: `), jsonTree(item, depth + 1))),
      entries.length > MAX_CHILDREN ? h("li", {}, `… ${entries.length - MAX_CHILDREN} more`) : null,
    ),
  );
}

/** A JSON value with buttons that unfold or fold all of it, and its raw text to copy. */
export function jsonBlock(label, value) {
  const tree = h("div", { className: "json-tree" }, jsonTree(value));
  const setAll = (open) => {
    for (const details of tree.querySelectorAll("details")) details.open = open;
  };
  return h(
    "div",
    { className: "json-block" },
    h(
      "div",
      { className: "json-tools" },
      h("button", { type: "button", className: "small secondary", "aria-label": `Unfold all of the ${label}`, onclick: () => setAll(true) }, "Unfold all"),
      h("button", { type: "button", className: "small secondary", "aria-label": `Fold all of the ${label}`, onclick: () => setAll(false) }, "Fold all"),
    ),
    tree,
  );
}
