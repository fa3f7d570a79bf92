// The endpoints overview: each endpoint's kind, handler, queue, workers by state, job counts, and a live
// plot of delay and execution times (uPlot, shipped with the emulator).

import { h, fill } from "./dom.js";

const WORKER_STATES = ["initializing", "idle", "running", "throttled", "unhealthy"];

/** An endpoint's counts as [label, value, key]: a queue's jobs, or a load-balancing endpoint's requests. */
function figuresOf(endpoint) {
  if (endpoint.kind === "queue") {
    const { queue, jobs } = endpoint;
    return [["In queue", queue.inQueue, "in-queue"], ["In progress", queue.inProgress, "in-progress"], ["Completed", jobs.completed, "completed"], ["Failed", jobs.failed, "failed"]];
  }
  const { requests } = endpoint;
  return [["Waiting", requests.waiting, "waiting"], ["In progress", requests.inProgress, "in-progress"], ["Completed", requests.completed, "completed"], ["Failed", requests.failed, "failed"]];
}

/** Draws the overview into `main`; `actions` has purge(endpointId) and newJob(endpointId). */
export function renderEndpoints(main, { endpoints, timings, windowMs }, actions) {
  const plots = [];
  fill(
    main,
    h("h2", {}, "Endpoints"),
    h(
      "div",
      { className: "cards" },
      endpoints.map((endpoint) => {
        const plotBox = h("div", { className: "plot", role: "img", "aria-label": `Delay and execution time of the jobs of ${endpoint.id} over the last ${Math.round(windowMs / 60000)} minutes` });
        if (endpoint.kind === "queue") plots.push({ endpoint, plotBox });
        return h(
          "section",
          { className: "card", "aria-labelledby": `endpoint-${endpoint.id}`, "data-endpoint": endpoint.id },
          h("h3", { id: `endpoint-${endpoint.id}` }, endpoint.id, " ", h("span", { className: "badge kind" }, endpoint.kind)),
          h("p", { className: "handler" }, h("span", { className: "label" }, "Handler "), h("code", {}, endpoint.handler ?? "–")),
          h("dl", { className: "figures" }, figuresOf(endpoint).map(([label, value, key]) => figure(label, value, key))),
          h(
            "p",
            { className: "worker-states", "aria-label": `Workers of ${endpoint.id} by state` },
            WORKER_STATES.map((state) => h("span", { className: `chip worker-${state}`, "data-state": state }, `${state} ${endpoint.workers[state]}`)),
          ),
          endpoint.problems.length > 0 ? h("ul", { className: "problems" }, endpoint.problems.map((problem) => h("li", {}, `${problem.workerId} ${problem.state}: ${problem.detail}`))) : null,
          endpoint.kind === "queue"
            ? h(
                "div",
                { className: "actions" },
                h("button", { type: "button", "aria-label": `New job on ${endpoint.id}`, onclick: () => actions.newJob(endpoint.id) }, "New job"),
                h("button", { type: "button", className: "danger", "aria-label": `Purge queue of ${endpoint.id}`, onclick: () => actions.purge(endpoint.id) }, "Purge queue"),
              )
            : null,
          endpoint.kind === "queue" ? plotBox : null,
        );
      }),
    ),
  );
  return plots.map(({ endpoint, plotBox }) => timingPlot(plotBox, timings.get(endpoint.id), windowMs));
}

function figure(label, value, name) {
  return h("div", { className: "figure" }, h("dt", {}, label), h("dd", { "data-figure": name }, String(value)));
}

/** A uPlot chart of one endpoint's job timings; `update()` redraws it from its arrays. */
function timingPlot(box, series, windowMs) {
  if (typeof window.uPlot !== "function") return { update() {}, destroy() {} };
  const styles = getComputedStyle(document.documentElement);
  const color = (name) => styles.getPropertyValue(name).trim();
  const axis = { stroke: color("--muted"), grid: { stroke: color("--rule"), width: 1 }, ticks: { stroke: color("--rule") } };
  const width = () => Math.max(240, box.clientWidth || 400);
  const plot = new window.uPlot(
    {
      width: width(),
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // Ends now, whatever the newest job, and starts with the oldest job in the window (a minute at least).
      scales: { x: { time: true, range: () => xRange(series, windowMs) }, y: { range: (_u, min, max) => [0, Math.max(10, max * 1.1)] } },
      axes: [axis, { ...axis, values: (_u, ticks) => ticks.map((v) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`)), size: 60 }],
      series: [
        {},
        { label: "delay", stroke: color("--plot-delay"), width: 2, points: { show: true, size: 4 }, spanGaps: true },
        { label: "execution", stroke: color("--plot-exec"), width: 2, points: { show: true, size: 4 }, spanGaps: true },
      ],
    },
    data(series, windowMs),
    box,
  );
  const resize = () => plot.setSize({ width: width(), height: 180 });
  window.addEventListener("resize", resize);
  return {
    update: () => plot.setData(data(series, windowMs)),
    destroy: () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    },
  };
}

function xRange(series, windowMs) {
  const now = Date.now();
  const oldest = series[0]?.finishedAt ?? now;
  return [Math.max(now - windowMs, Math.min(now - 60_000, oldest - 5_000)) / 1000, now / 1000];
}

/** The series trimmed to the window, as uPlot's columns (x in seconds). */
function data(series, windowMs) {
  const since = Date.now() - windowMs;
  while (series.length > 0 && series[0].finishedAt < since) series.shift();
  return [series.map((p) => p.finishedAt / 1000), series.map((p) => p.delayTime ?? null), series.map((p) => p.executionTime ?? null)];
}
