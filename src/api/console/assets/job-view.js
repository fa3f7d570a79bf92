// One job's whole record: its error and traceback, input, output, stream, progress, logs, webhook
// attempts and timings, with the actions a client could take on it.

import { duration, fill, h, statusBadge, table, time } from "./dom.js";
import { jsonBlock, jsonTree } from "./json-tree.js";

const RETRYABLE = new Set(["FAILED", "TIMED_OUT"]);
const CANCELLABLE = new Set(["IN_QUEUE", "IN_PROGRESS"]);

/**
 * Draws the job into `main`. `detail` is the console API's record plus `progress` (updates seen live);
 * `actions` has retry(job), cancel(job), replay(job).
 */
export function renderJob(main, detail, actions) {
  const { job } = detail;
  const usable = detail.known && !detail.expired;
  fill(
    main,
    h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")),
    h("h2", { className: "job-title" }, "Job ", h("code", {}, job.id), " ", statusBadge(job.status)),
    detail.expired ? h("p", { className: "hint" }, "Past its lifetime: the API no longer answers for this job; the history keeps it.") : null,
    h(
      "div",
      { className: "actions", role: "group", "aria-label": "Job actions" },
      h("button", { type: "button", disabled: !(usable && RETRYABLE.has(job.status)), onclick: () => actions.retry(job) }, "Retry"),
      h("button", { type: "button", className: "danger", disabled: !(usable && CANCELLABLE.has(job.status)), onclick: () => actions.cancel(job) }, "Cancel"),
      h("button", { type: "button", disabled: !detail.known, onclick: () => actions.replay(job), title: "Queue the same input again, on the current code" }, "Replay"),
      h("button", { type: "button", className: "secondary", onclick: () => exportInput(job) }, "Export test_input.json"),
    ),
    job.error !== undefined ? errorSection(job.error, detail.exception) : null,
    section("Timings", timings(job)),
    section("Input", jsonBlock("input", job.input)),
    section("Output", job.output === undefined ? h("p", { className: "empty" }, "No output.") : jsonBlock("output", job.output)),
    section(
      `Stream chunks (${detail.chunks.length})`,
      detail.chunks.length === 0 ? h("p", { className: "empty" }, "None.") : h("ol", { className: "chunks", start: "0", "data-list": "chunks" }, detail.chunks.map((chunk) => h("li", {}, jsonTree(chunk, 1)))),
    ),
    section(
      "Progress updates",
      detail.progress.length === 0 ? h("p", { className: "empty" }, job.status === "IN_PROGRESS" && job.output !== undefined ? "The latest is the output above." : "None seen while this page was open.") : h("ol", { className: "chunks", "data-list": "progress" }, detail.progress.map((p) => h("li", {}, time(p.time), " ", jsonTree(p.output, 1)))),
    ),
    section(
      `Logs (${detail.logs.length})`,
      detail.logs.length === 0
        ? h("p", { className: "empty" }, "No lines.")
        : table("Logs", ["Time", "Worker", "Stream", "Line"], detail.logs.map((line) => h("tr", { className: line.stream === "stderr" ? "stderr" : undefined }, h("td", {}, time(line.at)), h("td", {}, h("code", {}, line.workerId)), h("td", {}, line.level ?? line.stream), h("td", {}, h("pre", { className: "line" }, line.message))))),
    ),
    section(
      "Webhook attempts",
      detail.webhooks.length === 0
        ? h("p", { className: "empty" }, job.webhook ? "None yet." : "No webhook.")
        : table("Webhook attempts", ["Attempt", "Time", "URL", "Answer", "Took"], detail.webhooks.map((w) => h("tr", {}, h("td", {}, String(w.attempt)), h("td", {}, time(w.at)), h("td", {}, w.url), h("td", {}, w.status !== undefined ? String(w.status) : w.error ?? "–"), h("td", {}, duration(w.ms))))),
    ),
  );
}

function section(title, ...content) {
  const id = `section-${title.toLowerCase().replace(/[^a-z]+/g, "-").replace(/-$/, "")}`;
  return h("section", { className: "panel", "aria-labelledby": id }, h("h3", { id }, title), ...content);
}

/** The error: an exception's type, message and traceback lines when the SDK reported one, else the text. */
function errorSection(error, exception) {
  if (!exception) return section("Error", h("pre", { className: "error-text" }, error));
  return section(
    "Error",
    h("p", { className: "exception" }, h("strong", { className: "exception-type" }, exception.type), ": ", h("span", { className: "exception-message" }, exception.message)),
    exception.traceback.length > 0 ? h("ol", { className: "traceback", "aria-label": "Traceback" }, exception.traceback.map((line) => h("li", {}, h("code", {}, line)))) : null,
  );
}

function timings(job) {
  const rows = [
    ["Endpoint", job.endpointId],
    ["Route", `/${job.kind}`],
    ["Submitted", time(job.createdAt)],
    ["Taken", time(job.takenAt)],
    ["Finished", time(job.finishedAt)],
    ["Delay", duration(job.delayTime)],
    ["Execution", duration(job.executionTime)],
    ["Worker", job.workerId ?? "–"],
    ["Retries", String(job.retries)],
    ["Handler version", job.handlerVersion ?? "–"],
    ["Handler file", job.handlerFile ?? "–"],
  ];
  if (job.webhook) rows.push(["Webhook", job.webhook]);
  if (Object.keys(job.policy ?? {}).length > 0) rows.push(["Policy", JSON.stringify(job.policy)]);
  return h("dl", { className: "timings" }, rows.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))));
}

/** Downloads `{"input": …}`, the official SDK's test_input.json. */
function exportInput(job) {
  const blob = new Blob([`${JSON.stringify({ input: job.input }, null, 2)}\n`], { type: "application/json" });
  const link = h("a", { href: URL.createObjectURL(blob), download: "test_input.json", hidden: true });
  document.body.append(link);
  link.click();
  setTimeout(() => (URL.revokeObjectURL(link.href), link.remove()), 1000);
}
