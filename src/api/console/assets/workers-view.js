// The Workers tab: one row per worker, as the hosted console shows them, with its processes' use.

import { age, bytes, duration, fill, h, shortId, table } from "./dom.js";

/** Draws the workers into `main`; `refresh()` reads them again (and their CPU and memory). */
export function renderWorkers(main, workers, refresh) {
  fill(
    main,
    h("h2", {}, "Workers"),
    h("p", { className: "hint" }, "States change live. CPU and memory are read from /proc when this list is read: ", h("button", { type: "button", className: "small", onclick: refresh }, "Read usage again")),
    workers.length === 0
      ? h("p", { className: "empty" }, "No workers now: they start when jobs arrive (or with min workers).")
      : table(
          "Workers",
          ["Worker", "Endpoint", "State", "Since", "Cold start", "Jobs done", "Current job", "Handler version", "CPU", "Memory"],
          workers.map((worker) =>
            h(
              "tr",
              { "data-worker": worker.id },
              h("th", { scope: "row" }, h("code", {}, worker.id), worker.type === "active" ? " (active)" : null),
              h("td", {}, worker.endpointId),
              h("td", {}, h("span", { className: `chip worker-${worker.state}` }, worker.state), worker.detail ? h("div", { className: "detail" }, worker.detail) : null, worker.state === "outdated" ? h("div", { className: "detail" }, "finishes on the previous code, then is replaced") : null),
              h("td", {}, age(worker.since)),
              h("td", {}, duration(worker.coldStartMs)),
              h("td", { className: "number" }, String(worker.jobsDone)),
              h("td", {}, worker.jobs.length === 0 ? "–" : worker.jobs.map((id) => h("a", { href: `#/jobs/${encodeURIComponent(id)}` }, h("code", {}, shortId(id))))),
              h("td", {}, h("code", {}, worker.handlerVersion ? worker.handlerVersion.slice(0, 10) : "–"), worker.current ? null : h("span", { className: "detail" }, " previous code")),
              h("td", { className: "number" }, worker.usage?.cpuPercent === undefined ? (worker.usage ? `${worker.usage.cpuSeconds.toFixed(1)} s` : "–") : `${worker.usage.cpuPercent}%`),
              h("td", { className: "number" }, bytes(worker.usage?.rssBytes ?? worker.memory?.usedBytes)),
            ),
          ),
        ),
  );
}
