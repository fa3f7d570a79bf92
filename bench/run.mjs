// `npm run bench`: every figure of the emulator's cost, each against a floor measured in the same run on
// the same machine. Prints one table and writes it to bench/results.json.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { build, cleanUp, percentiles, request, root, rssMB, since, startEmulator, startServer, tempDir } from "./lib.mjs";
import { submissionFairness } from "./submission-fairness.mjs";

const rows = [];
const only = process.argv[2];
const nodeEcho = join(root, "fixtures/node/echo/handler.js");
const pythonEcho = join(root, "fixtures/python/echo/handler.py");
const noop = join(root, "bench/handlers/noop.mjs");

function row(figure, value, floor, unit, note = "") {
  const ratio = floor ? value / floor : undefined;
  rows.push({ figure, value, floor, unit, ratio: ratio === undefined ? undefined : Number(ratio.toFixed(2)), note });
  console.error(`  ${figure}: ${value} ${unit}${floor ? ` (floor ${floor} ${unit}, ×${ratio.toFixed(2)})` : ""}${note ? ` — ${note}` : ""}`);
}

/** Sequential round trips of `call`, after a warm-up. */
async function latency(count, call, warmUp = 50) {
  for (let i = 0; i < warmUp; i++) await call(i);
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await call(i);
    samples.push(since(start));
  }
  return percentiles(samples);
}

const round = (ms) => Number(ms.toFixed(3));

// ------------------------------------------------------------------ floors

async function floors() {
  const server = spawn(process.execPath, ["-e", `
    require("node:http").createServer((req, res) => {
      const chunks = []; req.on("data", (c) => chunks.push(c));
      req.on("end", () => { const body = Buffer.concat(chunks); res.writeHead(200, {"Content-Type": "application/json"}); res.end(body.length ? body : "{}"); });
    }).listen(0, "127.0.0.1", function () { console.log(this.address().port); });`], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => server.stdout.once("data", (d) => resolve(Number(String(d)))));
  const url = `http://127.0.0.1:${port}/`;
  const rt = await latency(2000, (i) => request(url, "POST", { input: { i } }));
  const rate = await throughputOf(url, 20_000);
  server.kill("SIGKILL");
  const start = (command, args) => {
    const samples = [];
    for (let i = 0; i < 20; i++) {
      const t = process.hrtime.bigint();
      execFileSync(command, args);
      samples.push(since(t));
    }
    return percentiles(samples).p50;
  };
  // The interpreter itself, not a version manager's shim in front of it (the emulator spawns it directly).
  const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"]).toString().trim();
  return { rtP50: round(rt.p50), rtP99: round(rt.p99), rate, nodeStart: round(start(process.execPath, ["-e", "0"])), pythonStart: round(start(python, ["-c", "0"])) };
}

/** Requests per second with 32 connections, each POSTing a small JSON body in a loop. */
async function throughputOf(url, total) {
  let sent = 0;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (sent < total) {
      sent++;
      await request(url, "POST", { input: { n: sent } });
    }
  }));
  return Math.round(total / (since(start) / 1000));
}

// ------------------------------------------------------------------ figures

async function warmRunsync(floor) {
  for (const [name, handler] of [["node", nodeEcho], ["python", pythonEcho]]) {
    const emu = await startEmulator([handler, "--in-memory", "--no-watch", "--min-workers", "1"]);
    const { p50, p99 } = await latency(2000, (i) => request(`${emu.url}/runsync`, "POST", { input: { i } }));
    row(`warm /runsync ${name} echo p50`, round(p50), floor.rtP50, "ms", "target ≤ 2.5×");
    row(`warm /runsync ${name} echo p99`, round(p99), floor.rtP99, "ms");
    await emu.stop();
  }
  // The in-process function handler, in a process of its own as the CLI's emulator is.
  const fn = await startServer(`
    const { createEmulator } = await import(${JSON.stringify(join(build, "dist/index.js"))});
    const emu = await createEmulator({ handler: (job) => job.input, inMemory: true, minWorkers: 1 });
    console.log(emu.url);`);
  const { p50, p99 } = await latency(2000, (i) => request(`${fn.url}/runsync`, "POST", { input: { i } }));
  row("warm /runsync function handler p50", round(p50), floor.rtP50, "ms", "createEmulator({ handler: fn }); target ≤ 1.5×");
  row("warm /runsync function handler p99", round(p99), floor.rtP99, "ms");
  await fn.stop();
}

/**
 * The official SDK's own local server (`python handler.py --rp_serve_api`), measured with the same client
 * in the same run, where the configured Python has the SDK with FastAPI; otherwise a note says why not.
 */
async function rpServeApi(floor) {
  const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"]).toString().trim();
  // The SDK as the user installed it: the bundled module is not on this interpreter's path.
  const env = { ...process.env, PYTHONPATH: "" };
  try {
    execFileSync(python, ["-c", "import runpod.serverless.modules.rp_fastapi, uvicorn"], { env, stdio: "ignore" });
  } catch {
    console.error("  rp_serve_api: skipped, the configured Python has no official runpod SDK with FastAPI (pip install runpod)");
    return;
  }
  const port = await freePort();
  const server = await startServer(undefined, {
    command: python, args: [pythonEcho, "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", String(port)], env,
    ready: async () => {
      try {
        return (await request(`http://127.0.0.1:${port}/runsync`, "POST", { input: {} })).status === 200 ? `http://127.0.0.1:${port}` : undefined;
      } catch {
        return undefined;
      }
    },
  });
  const { p50, p99 } = await latency(2000, (i) => request(`${server.url}/runsync`, "POST", { input: { i } }));
  row("rp_serve_api warm /runsync python echo p50", round(p50), floor.rtP50, "ms", "the official SDK's local server; compare warm /runsync python echo");
  row("rp_serve_api warm /runsync python echo p99", round(p99), floor.rtP99, "ms");
  row("rp_serve_api /runsync requests/s, 32 connections", await throughputOf(`${server.url}/runsync`, 10_000), floor.rate, "req/s", "compare the throughput rows");
  await server.stop();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = http.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

async function throughput(floor) {
  for (const store of ["memory", "file"]) {
    const dir = tempDir();
    const emu = await startEmulator([noop, store === "memory" ? "--in-memory" : "--db", ...(store === "file" ? [join(dir, "bench.db")] : []), "--no-watch", "--min-workers", "4", "--max-workers", "4"]);
    const rate = await runJobs(emu, 10_000);
    row(`throughput, 10,000 /run jobs, 4 workers × 8, ${store}`, rate, floor.rate, "jobs/s", "floor in requests/s; target ≥ 1/3");
    if (store === "memory") row("RSS after 10,000 jobs (in memory)", await rssMB(emu.child.pid), undefined, "MB");
    await emu.stop();
  }
}

/** Throughput with a million finished jobs already in the database file. */
async function throughputAmongMillion(floor) {
  const db = join(tempDir(), "million.db");
  seed(db, 1_000_000);
  const emu = await startEmulator([noop, "--db", db, "--no-watch", "--history-limit", "2000000", "--min-workers", "4", "--max-workers", "4"]);
  const rate = await runJobs(emu, 10_000);
  row("throughput, 10,000 /run jobs, 4 workers × 8, file with 1,000,000 jobs", rate, floor.rate, "jobs/s", "floor in requests/s; compare the file row");
  await emu.stop();
}

/** Resident memory and database size per 100,000 stored jobs: the same emulator on an empty and a seeded file. */
async function memoryPerJobs() {
  const measure = async (count) => {
    const db = join(tempDir(), `jobs-${count}.db`);
    if (count > 0) seed(db, count);
    const emu = await startEmulator(["--mock", "--db", db, "--no-watch", "--history-limit", String(count + 10)]);
    // /status of a stored job: what a client asks first, so the store's pages it needs are in.
    if (count > 0) await request(`${emu.url}/status/seed-0-u1`);
    const rss = await rssMB(emu.child.pid);
    await emu.stop();
    return { rss, bytes: statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0) };
  };
  const empty = await measure(0);
  const full = await measure(100_000);
  row("RSS with 100,000 stored jobs", full.rss, empty.rss, "MB", "floor: the same emulator on an empty database; finished jobs stay on disk, not in memory");
  row("database size per 100,000 stored jobs", Math.round((full.bytes - empty.bytes) / 1e6), undefined, "MB", "small input and output each");
}

/** Sends `total` /run jobs from 32 clients, then sees each COMPLETED with /status (32 clients too); jobs/s. */
async function runJobs(emu, total) {
  await waitWorkers(emu.url, 4);
  const ids = new Array(total);
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < total) {
      const n = next++;
      ids[n] = (await request(`${emu.url}/run`, "POST", { input: { n } })).body.id;
    }
  }));
  // Then every job is checked with /status, by as many clients, until it is seen COMPLETED.
  let checked = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (checked < total) {
      const id = ids[checked++];
      while ((await request(`${emu.url}/status/${id}`)).body.status !== "COMPLETED");
    }
  }));
  return Math.round(total / (since(start) / 1000));
}

async function waitWorkers(url, n) {
  for (;;) {
    const { body } = await request(`${url}/health`);
    if (body.workers.idle >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The first job's round trip on an emulator with no worker yet, against the interpreter's own start. On a
 * shared machine both drift by several ms within a run, so each sample is paired with a start of the bare
 * interpreter just before it, and the overhead is the median of the paired differences.
 */
async function coldJob(floor) {
  const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"]).toString().trim();
  for (const [name, handler, interpreter, bare] of [["node", nodeEcho, floor.nodeStart, [process.execPath, "-e", "0"]], ["python", pythonEcho, floor.pythonStart, [python, "-c", "0"]]]) {
    const samples = [];
    const overheads = [];
    for (let i = 0; i < 9; i++) {
      const emu = await startEmulator([handler, "--in-memory", "--no-watch"]);
      const started = process.hrtime.bigint();
      execFileSync(bare[0], bare.slice(1));
      const alone = since(started);
      const start = process.hrtime.bigint();
      await request(`${emu.url}/runsync`, "POST", { input: { i } });
      samples.push(since(start));
      overheads.push(samples.at(-1) - alone);
      await emu.stop();
    }
    const { p50 } = percentiles(samples);
    const overhead = percentiles(overheads).p50;
    row(`cold /runsync ${name} echo (no worker yet)`, round(p50), interpreter, "ms", `emulator's own overhead ${round(overhead)} ms: median of each sample less a start of the bare interpreter just before it (target ≤ 30 ms)`);
  }
}

async function startup() {
  const memory = await startEmulator(["--mock", "--in-memory", "--no-watch"]);
  row("start-up to ready, in memory", round(memory.readyMs), undefined, "ms");
  row("RSS idle", await rssMB(memory.child.pid), undefined, "MB", "target < 100 MB");
  await memory.stop();
  const db = join(tempDir(), "big.db");
  seed(db, 100_000);
  const file = await startEmulator(["--mock", "--db", db, "--no-watch"]);
  row("start-up to ready, file with 100,000 jobs", round(file.readyMs), undefined, "ms");
  await file.stop();
}

/** Writes `count` finished jobs straight into a database through the emulator's own store; every `failedEvery`th FAILED. */
function seed(db, count, failedEvery = 0) {
  execFileSync(process.execPath, ["--input-type=module", "-e", `
    import { openDatabase } from ${JSON.stringify(join(build, "dist/store/database.js"))};
    import { JobStore } from ${JSON.stringify(join(build, "dist/store/jobs.js"))};
    const db = openDatabase(${JSON.stringify(db)});
    const store = new JobStore(db);
    const now = Date.now();
    store.transaction(() => {
      for (let i = 0; i < ${count}; i++) store.insert({ id: "seed-" + i + "-u1", endpointId: "local", kind: "run", status: ${failedEvery} && i % ${failedEvery} === 0 ? "FAILED" : "COMPLETED",
        input: { i }, output: { i }, policy: {}, createdAt: now, finishedAt: now, retries: 0, lost: 0, expiresAt: now + 86400000,
        streamCount: 0, streamCursor: 0 });
    });
    db.close();`]);
}

async function statusAmong(counts) {
  const results = [];
  for (const count of counts) {
    const db = join(tempDir(), `status-${count}.db`);
    seed(db, count);
    const emu = await startEmulator(["--mock", "--db", db, "--no-watch", "--history-limit", String(count + 10)]);
    const id = `seed-${Math.floor(count / 2)}-u1`;
    results.push(await latency(2000, () => request(`${emu.url}/status/${id}`)));
    await emu.stop();
  }
  row(`/status of one job among ${counts[1].toLocaleString("en")} stored, p50`, round(results[1].p50), round(results[0].p50), "ms", `floor: among ${counts[0]}; target ≤ 2×`);
  row(`/status of one job among ${counts[1].toLocaleString("en")} stored, p99`, round(results[1].p99), round(results[0].p99), "ms");
}

async function bigPayload() {
  const emu = await startEmulator([nodeEcho, "--in-memory", "--no-watch", "--min-workers", "1"]);
  const body = `{"input":"${"x".repeat(19_999_000)}"}`;
  const { p50 } = await latency(5, () => request(`${emu.url}/runsync`, "POST", body), 1);
  row("20 MB /runsync round trip (node echo)", round(p50), undefined, "ms");
  await emu.stop();
}

/** Absolute time in ms with sub-millisecond precision, comparable between processes. */
const clock = () => performance.timeOrigin + performance.now();

async function streamLatency() {
  const emu = await startEmulator([join(root, "bench/handlers/timed-chunks.mjs"), "--in-memory", "--no-watch", "--min-workers", "1"]);
  const { default: WebSocket } = await import("ws");
  const viaSocket = [];
  const viaStream = [];
  for (let round = 0; round < 5; round++) {
    const { id } = (await request(`${emu.url}/run`, "POST", { input: { count: 40, every_ms: 10 } })).body;
    const ws = new WebSocket(`${emu.url.replace("http", "ws")}/ws?job=${id}`);
    ws.on("message", (data) => {
      const event = JSON.parse(String(data));
      if (event.type === "stream") viaSocket.push(clock() - event.output.at);
    });
    const closed = new Promise((resolve) => ws.once("close", resolve));
    let status = "IN_QUEUE";
    while (!["COMPLETED", "FAILED"].includes(status)) {
      const { body } = await request(`${emu.url}/stream/${id}?wait=5000`);
      const now = clock();
      for (const chunk of body.stream) viaStream.push(now - chunk.output.at);
      status = body.status;
    }
    await closed;
  }
  // The replayed chunks of a late subscription are not latencies: only the live ones count.
  const live = viaSocket.filter((ms) => ms < 1000);
  const socket = percentiles(live);
  const stream = percentiles(viaStream);
  row("stream chunk, yield → WebSocket, p50", round(socket.p50), undefined, "ms");
  row("stream chunk, yield → WebSocket, p99", round(socket.p99), undefined, "ms");
  row("stream chunk, yield → /stream long-poll, p50", round(stream.p50), undefined, "ms");
  row("stream chunk, yield → /stream long-poll, p99", round(stream.p99), undefined, "ms");
  await emu.stop();
}

/** A stream chunk's way to 100 WebSocket subscribers of its job: the moment the last of them has it. */
async function fanOut() {
  const emu = await startEmulator([join(root, "bench/handlers/timed-chunks.mjs"), "--in-memory", "--no-watch", "--min-workers", "1"]);
  const { default: WebSocket } = await import("ws");
  const samples = [];
  for (let round = 0; round < 3; round++) {
    // Subscribed to the endpoint's whole feed, then the job is submitted.
    const sockets = await Promise.all(Array.from({ length: 100 }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${emu.url.replace("http", "ws")}/ws`);
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    })));
    const last = new Map();
    const received = sockets.map((ws) => new Promise((resolve) => ws.on("message", (data) => {
      const event = JSON.parse(String(data));
      if (event.type === "stream") {
        last.set(event.output.i, Math.max(last.get(event.output.i) ?? 0, clock() - event.output.at));
        if (event.output.i === 19) resolve();
      }
    })));
    await request(`${emu.url}/run`, "POST", { input: { count: 20, every_ms: 20 } });
    await Promise.race([Promise.all(received), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    samples.push(...last.values());
    for (const ws of sockets) ws.terminate();
  }
  const { p50, p99 } = percentiles(samples);
  row("stream chunk → the 100th of 100 WebSocket subscribers, p50", round(p50), undefined, "ms", "compare stream chunk, yield → WebSocket");
  row("stream chunk → the 100th of 100 WebSocket subscribers, p99", round(p99), undefined, "ms");
  await emu.stop();
}

async function reloadLatency(floor) {
  for (const [name, file, source, interpreter] of [
    ["node", "handler.mjs", (mark) => `export default () => ({ mark: ${mark} });\n`, floor.nodeStart],
    ["python", "handler.py", (mark) => `import runpod\n\nrunpod.serverless.start({"handler": lambda job: {"mark": ${mark}}})\n`, floor.pythonStart],
  ]) {
    const dir = tempDir();
    const handler = join(dir, file);
    writeFileSync(handler, source(0));
    const emu = await startEmulator([handler, "--in-memory", "--min-workers", "1"], { cwd: dir });
    await request(`${emu.url}/runsync`, "POST", { input: {} });
    const samples = [];
    for (let mark = 1; mark <= 5; mark++) {
      const start = process.hrtime.bigint();
      writeFileSync(handler, source(mark));
      while ((await request(`${emu.url}/runsync`, "POST", { input: {} })).body.output?.mark !== mark);
      samples.push(since(start));
    }
    const { p50 } = percentiles(samples);
    row(`save → first job on the new code, ${name} echo`, round(p50), interpreter, "ms", `emulator's own part ≈ ${round(p50 - interpreter)} ms (the rest is the interpreter's start; includes the 150 ms debounce)`);
    await emu.stop();
  }
}

async function manyReloads() {
  const dir = tempDir();
  const handler = join(dir, "handler.mjs");
  writeFileSync(handler, "export default () => 0;\n");
  let reloads = 0;
  const emu = await startEmulator([handler, "--in-memory", "--min-workers", "1"], { cwd: dir, lines: (event) => event.type === "reload" && reloads++ });
  const fds = () => readdirSync(`/proc/${emu.child.pid}/fd`).length;
  await request(`${emu.url}/runsync`, "POST", { input: {} });
  const before = { rss: await rssMB(emu.child.pid), fds: fds() };
  for (let n = 1; n <= 200; n++) {
    writeFileSync(handler, `export default () => ${n};\n`);
    while (reloads < n) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  while ((await request(`${emu.url}/runsync`, "POST", { input: {} })).body.output !== 200);
  row("RSS after 200 reloads", await rssMB(emu.child.pid), before.rss, "MB", "floor: the same emulator before them");
  row("open file handles after 200 reloads", fds(), before.fds, "", "floor: the same emulator before them");
  await emu.stop();
}

async function functionHandlerStart() {
  const { createEmulator } = await import(join(build, "dist/index.js"));
  const samples = [];
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    const emu = await createEmulator({ handler: (job) => job.input });
    await request(`${emu.url}/runsync`, "POST", { input: { i } });
    samples.push(since(start));
    await emu.close();
  }
  row("createEmulator({ handler: fn }) → first COMPLETED", round(percentiles(samples).p50), undefined, "ms", "target: well under a second");
  // Ten file-handler emulators with a warm worker each, closed together.
  const emus = await Promise.all(Array.from({ length: 10 }, () => createEmulator({ handler: nodeEcho, minWorkers: 1 })));
  await Promise.all(emus.map((emu) => request(`${emu.url}/runsync`, "POST", { input: {} })));
  const closes = await Promise.all(emus.map(async (emu) => {
    const start = process.hrtime.bigint();
    await emu.close();
    return since(start);
  }));
  row("close() of ten emulators with a warm worker each, in parallel: slowest", round(Math.max(...closes)), undefined, "ms", "target: under a second each");
}

/**
 * The console over 100,000 stored jobs (1 in 100 FAILED): the JSON answers its jobs page asks for, a
 * state filter, a text filter, and — where Debian's chromium is installed — the page itself in a
 * browser, from navigation to its first 50 rows shown.
 */
async function consoleJobs() {
  const count = 100_000;
  const db = join(tempDir(), "console.db");
  seed(db, count, 100);
  const emu = await startEmulator(["--mock", "--db", db, "--no-watch", "--history-limit", String(count + 10)]);
  const base = emu.url.replace(/\/v2\/.*$/, "");
  const stored = `among ${count.toLocaleString("en")} stored`;
  const jobs = await latency(200, () => request(`${base}/console/api/jobs`), 10);
  row(`console: first page of jobs (50) ${stored}, p50`, round(jobs.p50), undefined, "ms");
  const overview = await latency(200, () => request(`${base}/console/api/endpoints`), 10);
  row(`console: endpoints overview ${stored}, p50`, round(overview.p50), undefined, "ms");
  const failed = await latency(200, () => request(`${base}/console/api/jobs?status=FAILED`), 10);
  row(`console: jobs filtered by status (1 in 100 FAILED) ${stored}, p50`, round(failed.p50), undefined, "ms", "target < 200 ms");
  row(`console: jobs filtered by status (1 in 100 FAILED) ${stored}, p99`, round(failed.p99), undefined, "ms");
  const none = await latency(200, () => request(`${base}/console/api/jobs?status=TIMED_OUT`), 10);
  row(`console: jobs filtered by a status no job has ${stored}, p50`, round(none.p50), undefined, "ms", "target < 200 ms");
  const text = await latency(20, () => request(`${base}/console/api/jobs?q=seed-7`), 2);
  row(`console: jobs whose id or input holds a text ${stored}, p50`, round(text.p50), undefined, "ms", "reads rows newest first until a page is full");
  const rare = await latency(20, () => request(`${base}/console/api/jobs?q=nowhere`), 2);
  row(`console: a text no job holds ${stored} (every row read), p50`, round(rare.p50), undefined, "ms");
  const chromium = "/usr/bin/chromium";
  if (existsSync(chromium)) {
    const { chromium: launcher } = await import("playwright-core");
    const browser = await launcher.launch({ executablePath: chromium, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
    try {
      const samples = [];
      for (let i = 0; i < 6; i++) {
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        const start = process.hrtime.bigint();
        await page.goto(`${base}/#/jobs`);
        await page.locator("tr[data-job]").nth(49).waitFor();
        if (i > 0) samples.push(since(start));
        await page.close();
      }
      row(`console: jobs page in Chromium, navigation → 50 rows shown, ${stored}, p50`, round(percentiles(samples).p50), undefined, "ms", "target < 1 s; first load not counted");
    } finally {
      await browser.close();
    }
  } else console.error(`  (the page in a browser is not measured: ${chromium} is not installed)`);
  await emu.stop();
}

const figures = {
  warmRunsync, rpServeApi, throughput, throughputAmongMillion, memoryPerJobs, fanOut, coldJob, startup, status: () => statusAmong([10, 1_000_000]), bigPayload,
  streamLatency, reloadLatency, manyReloads, functionHandlerStart, consoleJobs,
  submissionFairness: () => submissionFairness(row),
};

try {
  console.error("measuring floors…");
  const floor = await floors();
  row("floor: bare node:http JSON POST round trip p50", floor.rtP50, undefined, "ms");
  row("floor: bare node:http requests/s, 32 connections", floor.rate, undefined, "req/s");
  row("floor: node -e 0", floor.nodeStart, undefined, "ms");
  row("floor: python3 -c 0", floor.pythonStart, undefined, "ms");
  for (const [name, run] of Object.entries(figures)) {
    if (only && only !== name) continue;
    console.error(`measuring ${name}…`);
    await run(floor);
  }
} finally {
  cleanUp();
}

const table = [
  "| figure | value | floor | ratio | note |",
  "|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.figure} | ${r.value} ${r.unit} | ${r.floor ?? ""} | ${r.ratio ?? ""} | ${r.note} |`),
].join("\n");
console.log(table);
writeFileSync(process.env.BENCH_OUT ?? join(root, "bench/results.json"), `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
http.globalAgent.destroy();
