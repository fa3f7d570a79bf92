// Small DOM helpers: elements are built with textContent, never from HTML strings, so no job data can
// become markup.

/** An element with attributes (`on*` become listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Milliseconds as people read them: 840 ms, 3.4 s, 2 min 5 s. */
export function duration(ms) {
  if (ms === undefined || ms === null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How long ago a time was, kept current by `refreshAges`. */
export function age(at) {
  return h("time", { datetime: new Date(at).toISOString(), "data-age": at, title: new Date(at).toLocaleString() }, ago(at));
}

function ago(at) {
  const ms = Math.max(0, Date.now() - at);
  if (ms < 1000) return "just now";
  return ms < 60_000 ? `${Math.floor(ms / 1000)} s ago` : `${duration(ms).replace(/ \d+ s$/, "")} ago`;
}

/** Rewrites every age on the page (called each second: a clock, not a request). */
export function refreshAges() {
  for (const element of document.querySelectorAll("[data-age]")) element.textContent = ago(Number(element.dataset.age));
}

export function bytes(n) {
  if (n === undefined || n === null) return "–";
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function time(at) {
  return at === undefined || at === null ? "–" : new Date(at).toLocaleTimeString(undefined, { hour12: false }) + `.${String(at % 1000).padStart(3, "0")}`;
}

/** A job state as a badge; the class gives its colour, the text says it. */
export function statusBadge(status) {
  return h("span", { className: `badge status-${String(status).toLowerCase()}` }, status);
}

/** A table in a box that scrolls sideways on a narrow window. */
export function table(caption, headings, rows) {
  return h(
    "div",
    { className: "table-box", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {}, h("caption", { className: "visually-hidden" }, caption), h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))), h("tbody", {}, rows)),
  );
}

export const shortId = (id) => (id && id.length > 14 ? `${id.slice(0, 12)}…` : id ?? "–");
