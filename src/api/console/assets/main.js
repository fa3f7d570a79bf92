// The console: reads the emulator's state once through its JSON API, then follows the live feed. Events
// change what is shown; a view reads the API again only when an event says its data changed.

import { ApiError, call, client } from "./api.js";
import { refreshAges } from "./dom.js";
import { renderEndpoints } from "./endpoints-view.js";
import { Feed } from "./feed.js";
import { renderJob } from "./job-view.js";
import { jobRow, matchesFilter, renderJobs } from "./jobs-view.js";
import { renderWorkers } from "./workers-view.js";

const API = "/console/api";
const main = document.getElementById("main");
const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
/** Rows in a page of the jobs table (the API's default page). */
const PAGE_ROWS = 50;

const state = {
  view: "endpoints",
  endpoints: [],
  windowMs: 600_000,
  /** Each queue endpoint's recent job timings, for its plot. */
  timings: new Map(),
  plots: [],
  workers: [],
  jobs: { jobs: [], next: null, filter: {}, cursors: [], newest: true },
  detail: undefined,
};

const feed = new Feed({
  onEvent,
  onState: (open) => {
    const badge = document.getElementById("connection");
    badge.textContent = open ? "live" : "reconnecting…";
    badge.dataset.state = open ? "live" : "lost";
  },
  onReopen: () => show(),
});

// ------------------------------------------------------------------ reading

async function loadEndpoints() {
  const answer = await call(`${API}/endpoints`);
  state.endpoints = answer.endpoints;
  state.windowMs = answer.timingsWindowMs;
  for (const endpoint of answer.endpoints) if (endpoint.kind === "queue") state.timings.set(endpoint.id, endpoint.timings);
  feed.follow(answer.endpoints.map((endpoint) => endpoint.id));
  fillEndpointChoice();
}

async function loadWorkers() {
  state.workers = (await call(`${API}/workers`)).workers;
}

async function loadJobs() {
  const { filter, cursors } = state.jobs;
  const query = new URLSearchParams({ limit: String(PAGE_ROWS) });
  if (filter.status) query.set("status", filter.status);
  if (filter.endpoint) query.set("endpoint", filter.endpoint);
  if (filter.q) query.set("q", filter.q);
  const before = cursors.at(-1);
  if (before !== undefined) query.set("before", String(before));
  const answer = await call(`${API}/jobs?${query}`);
  state.jobs = { ...state.jobs, jobs: answer.jobs, next: answer.next, newest: cursors.length === 0 };
}

async function loadJob(id) {
  const detail = await call(`${API}/jobs/${encodeURIComponent(id)}`);
  const progress = state.detail?.job.id === id ? state.detail.progress : [];
  state.detail = { ...detail, progress };
}

// ------------------------------------------------------------------ showing

/** Shows the view the address names, reading its data first. */
async function show() {
  const [, view = "endpoints", id] = location.hash.match(/^#\/([^/]+)(?:\/(.+))?$/) ?? [];
  state.view = view;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    await loadEndpoints();
    if (view === "workers") await loadWorkers();
    if (view === "jobs" && id) await loadJob(decodeURIComponent(id));
    else if (view === "jobs") await loadJobs();
    render();
  } catch (error) {
    notify(error);
  }
}

function render() {
  const focus = focusedControl();
  for (const plot of state.plots) plot.destroy();
  state.plots = [];
  const [, view, id] = location.hash.match(/^#\/([^/]+)(?:\/(.+))?$/) ?? [];
  if (view === "workers") renderWorkers(main, state.workers, () => loadWorkers().then(render, notify));
  else if (view === "jobs" && id && state.detail) renderJob(main, state.detail, jobActions);
  else if (view === "jobs") renderJobs(main, state.jobs, state.endpoints.filter((e) => e.kind === "queue").map((e) => e.id), jobsActions);
  else state.plots = renderEndpoints(main, { endpoints: state.endpoints, timings: state.timings, windowMs: state.windowMs }, endpointActions);
  focus?.();
  document.title = `${view === "jobs" && id ? `Job ${decodeURIComponent(id)}` : (view ?? "endpoints").replace(/^./, (c) => c.toUpperCase())} · RunPod emulator`;
}

/** Whatever control in the view has the focus, as a function that focuses its successor after a redraw. */
function focusedControl() {
  const element = document.activeElement;
  if (!element || element === main || !main.contains(element)) return undefined;
  const same = (candidate) => candidate.tagName === element.tagName && (candidate.id || candidate.getAttribute("aria-label") || candidate.textContent) === (element.id || element.getAttribute("aria-label") || element.textContent);
  return () => [...main.querySelectorAll(element.tagName)].find(same)?.focus({ preventScroll: true });
}

/** One error sentence, shown until the next one. */
function notify(error) {
  const notice = document.getElementById("notice");
  notice.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  notice.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => (notice.hidden = true), 8000);
}

// ------------------------------------------------------------------ live events

/** Reads again at most once per frame of events: a burst of 200 jobs is one read, not 200. */
function soon(name, task) {
  soon.pending ??= new Map();
  if (soon.pending.has(name)) return;
  soon.pending.set(name, setTimeout(() => {
    soon.pending.delete(name);
    task().then(render, notify);
  }, 150));
}

function onEvent(endpointId, event) {
  const view = state.view;
  const detailId = state.detail?.job.id;
  const viewingJob = view === "jobs" && location.hash.split("/").length > 2;
  if (event.type === "status") {
    if (TERMINAL.has(event.status) && event.job.executionTime !== undefined) {
      state.timings.get(endpointId)?.push({ finishedAt: event.time, delayTime: event.job.delayTime, executionTime: event.job.executionTime });
      for (const plot of state.plots) plot.update();
    }
    if (view === "endpoints") soon("endpoints", loadEndpoints);
    if (view === "jobs" && !viewingJob) updateJobRow(endpointId, event);
    if (viewingJob && detailId === event.jobId) {
      // Shown at once, every state in turn; the rest of the record is read again after the burst.
      Object.assign(state.detail.job, { status: event.status, delayTime: event.job.delayTime, executionTime: event.job.executionTime, workerId: event.job.workerId, retries: event.job.retries ?? 0 });
      render();
      soon("job", () => loadJob(detailId));
    }
  } else if (event.type === "worker" || event.type === "reload") {
    if (view === "workers") soon("workers", loadWorkers);
    if (view === "endpoints") soon("endpoints", loadEndpoints);
  } else if (viewingJob && event.jobId === detailId) {
    if (event.type === "progress") {
      state.detail.progress.push({ time: event.time, output: event.output });
      render();
    } else if (event.type === "stream" || event.type === "log") soon("job", () => loadJob(detailId));
  }
}

/** A job's row changes in place; a new job that belongs on the first page is put on top. */
function updateJobRow(endpointId, event) {
  const page = state.jobs;
  const known = page.jobs.find((job) => job.id === event.jobId);
  const job = known ?? { id: event.jobId, endpointId, kind: event.jobId.startsWith("sync-") ? "runsync" : "run", createdAt: event.time, retries: 0 };
  Object.assign(job, { status: event.status, delayTime: event.job.delayTime, executionTime: event.job.executionTime, workerId: event.job.workerId, retries: event.job.retries ?? 0 });
  if (!known) {
    if (!page.newest || !matchesFilter(job, page.filter)) return;
    page.jobs.unshift(job);
    // A burst would grow the table without end: past twice a page, the newest page is read again, with its cursor.
    if (page.jobs.length > 2 * PAGE_ROWS) soon("jobs", loadJobs);
  }
  // A row that no longer matches a state filter stays, with its new state: rows do not vanish under the pointer.
  const row = main.querySelector(`tr[data-job="${CSS.escape(job.id)}"]`);
  const fresh = jobRow(job);
  if (row) row.replaceWith(fresh);
  else if (!known) {
    const body = main.querySelector("tbody");
    if (body) body.prepend(fresh);
    else render();
  }
}

// ------------------------------------------------------------------ actions (through the client API)

const jobActions = {
  retry: (job) => act(client.retry(job.endpointId, job.id), () => loadJob(job.id)),
  cancel: (job) => act(client.cancel(job.endpointId, job.id), () => loadJob(job.id)),
  replay: (job) => {
    const body = { input: job.input };
    if (job.webhook) body.webhook = job.webhook;
    return act(client.run(job.endpointId, body, false), undefined, (answer) => (location.hash = `#/jobs/${encodeURIComponent(answer.id)}`));
  },
};

const jobsActions = {
  filter: (filter) => {
    state.jobs = { ...state.jobs, filter, cursors: [] };
    loadJobs().then(render, notify);
  },
  older: () => {
    state.jobs.cursors.push(state.jobs.next);
    loadJobs().then(render, notify);
  },
  newest: () => {
    state.jobs.cursors = [];
    loadJobs().then(render, notify);
  },
};

const endpointActions = {
  purge: (endpointId) =>
    act(client.purge(endpointId), loadEndpoints, (answer) => notify(`Purged ${answer.removed} queued job${answer.removed === 1 ? "" : "s"} of ${endpointId}.`)),
  newJob: (endpointId) => openNewJob(endpointId),
};

/** Runs an action; then reads again what it changed, and shows the result or the error. */
async function act(promise, reload, then) {
  try {
    const answer = await promise;
    if (reload) await reload();
    render();
    then?.(answer);
  } catch (error) {
    notify(error);
  }
}

// ------------------------------------------------------------------ the new-job form

function fillEndpointChoice() {
  const select = document.getElementById("new-job-endpoint");
  const ids = state.endpoints.filter((e) => e.kind === "queue").map((e) => e.id);
  if ([...select.options].map((o) => o.value).join() === ids.join()) return;
  select.replaceChildren(...ids.map((id) => Object.assign(document.createElement("option"), { value: id, textContent: id })));
}

function openNewJob(endpointId) {
  const dialog = document.getElementById("new-job-dialog");
  if (endpointId) document.getElementById("new-job-endpoint").value = endpointId;
  document.getElementById("new-job-error").textContent = "";
  dialog.showModal();
  document.getElementById("new-job-body").focus();
}

/** The request body typed in the form, or the sentence saying what is wrong with it. */
function readRequestBody(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${error.message}` };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return { problem: 'the request body must be a JSON object, such as {"input": {}}' };
  if (!("input" in body)) return { problem: 'the request body needs an "input" key' };
  return { body };
}

function setUpNewJobForm() {
  const dialog = document.getElementById("new-job-dialog");
  const form = document.getElementById("new-job-form");
  const text = document.getElementById("new-job-body");
  const error = document.getElementById("new-job-error");
  const submit = document.getElementById("new-job-submit");
  text.addEventListener("input", () => {
    const { problem } = readRequestBody(text.value);
    error.textContent = problem ?? "";
    text.setAttribute("aria-invalid", problem ? "true" : "false");
  });
  document.getElementById("new-job-open").addEventListener("click", () => openNewJob());
  document.getElementById("new-job-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { body, problem } = readRequestBody(text.value);
    if (problem) return void (error.textContent = problem);
    const sync = form.elements.route.value === "runsync";
    const endpointId = document.getElementById("new-job-endpoint").value;
    submit.disabled = true;
    error.textContent = sync ? "Waiting for the job to finish (/runsync)…" : "";
    try {
      const answer = await client.run(endpointId, body, sync);
      dialog.close();
      location.hash = `#/jobs/${encodeURIComponent(answer.id)}`;
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      submit.disabled = false;
    }
  });
}

// ------------------------------------------------------------------ start

setUpNewJobForm();
window.addEventListener("hashchange", () => {
  show();
  main.focus({ preventScroll: true });
});
setInterval(refreshAges, 1000);
if (!location.hash) history.replaceState(null, "", "#/endpoints");
show();
