// The Jobs table: newest first, a page at a time (keyset cursor), filtered by state, endpoint and text;
// rows change as the feed reports.

import { age, duration, fill, h, shortId, statusBadge, table } from "./dom.js";

const STATUSES = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];

/**
 * Draws the jobs page into `main`. `page` is {jobs, next, filter, newest}; `actions` has
 * filter(filter), older(), newest().
 */
export function renderJobs(main, page, endpointIds, actions) {
  const { filter } = page;
  const form = h(
    "form",
    { className: "filters", role: "search", "aria-label": "Filter jobs" },
    h("label", { for: "filter-status" }, "Status"),
    h("select", { id: "filter-status", name: "status" }, h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s, selected: filter.status === s }, s))),
    h("label", { for: "filter-endpoint" }, "Endpoint"),
    h("select", { id: "filter-endpoint", name: "endpoint" }, h("option", { value: "" }, "any"), endpointIds.map((id) => h("option", { value: id, selected: filter.endpoint === id }, id))),
    h("label", { for: "filter-text" }, "Id or input contains"),
    h("input", { id: "filter-text", name: "q", type: "search", value: filter.q ?? "", autocomplete: "off" }),
    h("button", { type: "submit" }, "Filter"),
  );
  const read = () => ({ status: form.elements.status.value || undefined, endpoint: form.elements.endpoint.value || undefined, q: form.elements.q.value.trim() || undefined });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    actions.filter(read());
  });
  for (const select of form.querySelectorAll("select")) select.addEventListener("change", () => actions.filter(read()));
  fill(
    main,
    h("h2", {}, "Jobs"),
    form,
    page.jobs.length === 0
      ? h("p", { className: "empty" }, "No jobs match.")
      : table("Jobs", ["Job", "Endpoint", "Status", "Delay", "Execution", "Worker", "Age"], page.jobs.map(jobRow)),
    h(
      "div",
      { className: "pager" },
      page.newest ? null : h("button", { type: "button", className: "secondary", onclick: actions.newest }, "Newest jobs"),
      page.next !== null ? h("button", { type: "button", className: "secondary", onclick: actions.older }, "Older jobs") : null,
    ),
  );
}

/** One row of the table. */
export function jobRow(job) {
  return h(
    "tr",
    { "data-job": job.id },
    h("th", { scope: "row" }, h("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, title: job.id }, h("code", {}, shortId(job.id)))),
    h("td", {}, job.endpointId),
    h("td", { "data-cell": "status" }, statusBadge(job.status), job.retries > 0 ? h("span", { className: "detail" }, ` retried ${job.retries}×`) : null),
    h("td", { className: "number", "data-cell": "delay" }, duration(job.delayTime)),
    h("td", { className: "number", "data-cell": "execution" }, duration(job.executionTime)),
    h("td", { "data-cell": "worker" }, job.workerId ? h("code", {}, job.workerId) : "–"),
    h("td", {}, age(job.createdAt)),
  );
}

/** Whether a job newly seen on the feed belongs on the first page under this filter. */
export function matchesFilter(job, filter) {
  if (filter.status && filter.status !== job.status) return false;
  if (filter.endpoint && filter.endpoint !== job.endpointId) return false;
  // The input is not on the feed: a text filter lets in only jobs whose id has the text.
  if (filter.q && !job.id.includes(filter.q)) return false;
  return true;
}
