import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, resolve } from "node:path";
import { createApiApp } from "./api/app.js";
import { accessChecker } from "./api/lb/request-checks.js";
import { endpointFromHost } from "./api/lb/host-routing.js";
import { LoadBalancerProxy, type ProxyTarget } from "./api/lb/lb-proxy.js";
import { createLoadBalancerServer } from "./api/lb/lb-server.js";
import type { CorsSetting } from "./api/middleware/browser-origin.js";
import { type HostPolicy, isLoopback } from "./api/middleware/host-check.js";
import { createApiServer } from "./api/server.js";
import { workerChannels } from "./api/worker-channel.js";
import { warmUp } from "./api/warm-up.js";
import { WebhookSender } from "./api/webhooks.js";
import { systemClock } from "./core/clock.js";
import { Endpoint } from "./core/endpoint.js";
import { LoadBalancingEndpoint } from "./core/load-balancer.js";
import { protocolEnvironment } from "./core/protocol-environment.js";
import { type EmulatorEvent, EventBus } from "./core/events.js";
import { isTerminal } from "./core/job.js";
import type { Emulator, EmulatorEventOf, EndpointInfo } from "./emulator-interface.js";
import { EmulatorError, userError } from "./errors.js";
import { type EmulatorOptions, type Settings, resolveOptions } from "./options.js";
import { DEBUGPY_PORT, INSPECT_PORT } from "./options/schema.js";
import { endpointSettings } from "./options/endpoint-entries.js";
import type { Database } from "./store/database.js";
import { type DatabaseLock, openOwnDatabase } from "./store/database-lock.js";
import { DiskSpace } from "./store/disk-space.js";
import { JobList } from "./store/job-list.js";
import { JobStore } from "./store/jobs.js";
import { LogStore } from "./store/logs.js";
import { WebhookStore } from "./store/webhooks.js";
import { type JobDetails, jobDetails } from "./store/history.js";
import { markStopping, removeServerInfo, writeServerInfo } from "./store/server-info.js";
import { type Gpu, GpuAllocator, detectGpus, selectGpus } from "./workers/gpus.js";
import type { DebugSetting } from "./workers/debug-port.js";
import { NetworkVolume } from "./workers/network-volume.js";
import { Pool, type PoolSettings } from "./workers/pool.js";
import { commandRuntime } from "./workers/runtimes/command.js";
import { functionRuntime, mockRuntime, nodeRuntime } from "./workers/runtimes/node.js";
import { findPython, pythonRuntime } from "./workers/runtimes/python.js";
import type { Runtime } from "./workers/runtimes/runtime.js";
import { loadDotEnv } from "./workers/environment.js";
import { sweepWorkerFolders } from "./workers/worker-folder.js";
import { workerEnvironment } from "./workers/worker-environment.js";
import { HandlerVersion } from "./watch/handler-version.js";
import { watchForReload } from "./watch/reload.js";

const NODE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"]);

/** One endpoint as the emulator runs it: its kind, its core, its runtime and its URL. */
export type RunningEndpoint =
  | { type: "queue"; id: string; url: string; endpoint: Endpoint<Pool>; runtime: Runtime; settings: Settings }
  | { type: "load-balancing"; id: string; url: string; endpoint: LoadBalancingEndpoint<Pool>; runtime: Runtime; settings: Settings; server: Server; hostUrl: string };

/**
 * A running emulator: one HTTP server, one job database, and its endpoints — queue endpoints behind the
 * queue API, load-balancing endpoints behind a proxy and a port of their own — each with its pool. Users
 * see it through the narrower `Emulator` interface; the CLI and the tests reach its parts.
 */
export class RunningEmulator implements Emulator {
  readonly url: string;
  readonly baseUrl: string;
  readonly endpointId: string;
  readonly port: number;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly events: EventBus,
    /** Every endpoint by id, in the order they were declared. */
    readonly running: ReadonlyMap<string, RunningEndpoint>,
    readonly gpus: Gpu[],
    /** Variables taken from the projects' .env files. */
    readonly dotEnvKeys: string[],
    /** The endpoints' network volumes, by folder. */
    readonly volumes: ReadonlyMap<string, NetworkVolume>,
    private readonly resources: Resources,
    port: number,
    host: string,
  ) {
    this.port = port;
    const first = [...running.values()][0] as RunningEndpoint;
    this.endpointId = first.id;
    this.baseUrl = `${httpBase(host, port)}/v2`;
    this.url = first.url;
  }

  /** The endpoints, each with its id, kind and URL. */
  get endpoints(): EndpointInfo[] {
    return [...this.running.values()].map(({ id, type, url }) => ({ id, type, url }));
  }

  /** The web console's page: `http://HOST:PORT/`. */
  get consoleUrl(): string {
    return `${this.baseUrl.slice(0, -"/v2".length)}/`;
  }

  /** The first queue endpoint (the only one, from a single handler). */
  get endpoint(): Endpoint<Pool> {
    const found = [...this.running.values()].find((entry) => entry.type === "queue");
    if (!found || found.type !== "queue") throw new Error("this emulator has no queue endpoint");
    return found.endpoint;
  }

  /** The first endpoint's pool of worker processes. */
  get pool(): Pool {
    return this.first.endpoint.pool;
  }

  /** What runs the first endpoint's workers. */
  get runtime(): Runtime {
    return this.first.runtime;
  }

  /** Where jobs are kept: a file path, or null in memory. */
  get databasePath(): string | null {
    return this.resources.databasePath;
  }

  /** The job database this emulator holds open. */
  get database(): Database {
    return this.resources.db;
  }

  private get first(): RunningEndpoint {
    return [...this.running.values()][0] as RunningEndpoint;
  }

  /**
   * What createEmulator() does, with the internal type: checks the options, then starts. In memory, on a
   * free port and without watching files unless told otherwise.
   */
  static async create(options: EmulatorOptions = {}, internals: Internals = {}): Promise<RunningEmulator> {
    // Read before the check, which refuses options that are not an object with a clear message.
    const db = (options as { db?: unknown } | null)?.db;
    return RunningEmulator.start(resolveOptions(options, { defaults: { port: 0, inMemory: db === undefined || db === null, watch: false } }), internals);
  }

  /**
   * Starts an emulator from checked options; rejects with a user error for a missing handler, a port in
   * use, and so on. The database is recovered before the server listens; a start that fails part-way
   * releases what it took.
   */
  static async start(settings: Settings, internals: Internals = {}): Promise<RunningEmulator> {
    const declared = endpointSettings(settings);
    const prepared = await Promise.all(declared.map((decl) => prepare(decl, settings.apiKey)));
    checkDebugPorts(prepared);
    const detected = prepared.some((p) => p.needsGpus) ? await detectGpus(settings.env ?? process.env) : [];
    const freeGpus = detected.map((gpu) => gpu.index);
    const databasePath = settings.inMemory ? null : resolve(settings.cwd ?? process.cwd(), settings.db);
    const { db, lock } = await openOwnDatabase(databasePath);
    const resources: Resources = { db, databasePath, lock, feeds: [], pools: [], cores: [], servers: [] };
    try {
      const events = new EventBus();
      if (settings.onEvent) events.on(settings.onEvent);
      const clock = settings.clock ?? systemClock;
      const firstId = (declared[0] as Settings).endpointId;
      const space = new DiskSpace(databasePath ?? ":memory:", (message) => events.emit({ type: "warning", endpointId: firstId, time: clock.now(), message }));
      const jobStore = new JobStore(resources.db, space, true);
      resources.jobStore = jobStore;
      const logs = new LogStore(resources.db, space);
      keepHistoryBounded(jobStore, logs, events, settings.historyLimit);
      resources.logs = logs;
      const queues = new Map<string, Endpoint<Pool>>();
      const loadBalancers = new Map<string, ProxyTarget>();
      const volumes = new Map<string, NetworkVolume>();
      for (const p of prepared) {
        if (p.volume === undefined || volumes.has(p.volume)) continue;
        const volume = await NetworkVolume.open(p.volume, p.env);
        resources.feeds.push(() => volume.close());
        volumes.set(p.volume, volume);
      }
      const built: Built[] = [];
      for (const p of prepared) {
        const gpus = selectGpus(detected, p.settings.gpus);
        if (gpus.length > 0 && p.settings.gpusPerWorker > gpus.length) {
          throw userError("ERR_BAD_OPTION", `gpusPerWorker (--gpus-per-worker) is ${p.settings.gpusPerWorker}, more than the ${gpus.length} GPUs selected`);
        }
        const version = p.watchRoot ? new HandlerVersion(p.watchRoot, [...volumes.keys()]) : undefined;
        const volume = p.volume === undefined ? undefined : volumes.get(p.volume);
        const poolSettings = poolSettingsOf(p, new GpuAllocator(gpus, p.settings.gpusPerWorker, freeGpus, p.settings.gpuType), version, volume);
        const s = p.settings;
        if (p.type === "queue") {
          const endpoint = new Endpoint(
            {
              id: s.endpointId,
              executionTimeout: s.executionTimeout,
              ttl: s.ttl,
              retention: { run: s.runRetention, runsync: s.runsyncRetention },
              resultLimit: { run: s.maxRunBody, runsync: s.maxRunsyncBody },
              pollHoldMs: s.pollHold,
              releaseGraceMs: s.releaseGrace,
              // A worker stopped at a breakpoint may fall silent (debugpy stops every thread): never unhealthy for that.
              pingTimeoutMs: p.runtime?.debug ? 0 : (s.pingTimeout ?? s.pingInterval * MISSED_PINGS),
              pingIntervalMs: s.pingInterval,
              handlerFile: p.handlerFile,
            },
            { store: jobStore, logs, bus: events, clock },
            (self) => new Pool(self, p.runtime as Runtime, poolSettings),
          );
          resources.cores.push(endpoint);
          resources.pools.push(endpoint.pool);
          endpoint.recover();
          queues.set(endpoint.id, endpoint);
          built.push({ prepared: p, endpoint, version });
        } else {
          // The runtime reports to the endpoint, which exists once the constructor that makes the pool returns.
          const runtime = commandRuntime(s.command as string, {
            listening: (...args) => endpoint.listening(...args),
            healthChecked: (...args) => endpoint.healthChecked(...args),
          });
          p.runtime = runtime;
          const endpoint: LoadBalancingEndpoint<Pool> = new LoadBalancingEndpoint(
            { id: s.endpointId, requestTimeoutMs: s.requestTimeout },
            { bus: events, clock },
            (self) => new Pool(self, runtime, poolSettings),
          );
          resources.cores.push(endpoint);
          resources.pools.push(endpoint.pool);
          loadBalancers.set(endpoint.id, { endpoint, processingTimeoutMs: s.processingTimeout });
          built.push({ prepared: p, endpoint, version });
        }
      }
      const warn = (message: string) => events.emit({ type: "warning", endpointId: firstId, time: clock.now(), message });
      const internalError = (error: unknown) => warn(`internal error, please report: ${(error as Error).stack ?? error}`);

      const host = settings.host;
      const controlKey = randomBytes(24).toString("base64url");
      const lbPorts = new Map<string, number>();
      const proxy = new LoadBalancerProxy(accessChecker({ apiKey: settings.apiKey, cors: corsSetting(settings.cors), hosts: hostPolicy(settings) }));
      const app = createApiApp({
        endpoints: queues,
        loadBalancers,
        proxy,
        loadBalancerUrl: (id) => httpBase(host, lbPorts.get(id) ?? 0),
        bus: events,
        apiKey: settings.apiKey,
        limits: { run: settings.maxRunBody, runsync: settings.maxRunsyncBody },
        cors: corsSetting(settings.cors),
        boundHost: host,
        allowedHosts: settings.allowedHosts ?? [],
        allowWebhookHosts: settings.allowWebhookHosts ?? [],
        workerEnvironment: {
          controlKey,
          environmentOf: (endpointId, workerId) => {
            const found = built.find((b) => b.endpoint.id === endpointId);
            const live = found?.endpoint.pool.liveEnvironment(workerId);
            return found && live && { ...live, cwd: found.prepared.cwd };
          },
        },
        console: {
          jobs: new JobList(resources.db),
          details: (id) => jobDetails(resources.db, id, clock.now()),
          describe: (id) => {
            const entry = built.find((b) => b.endpoint.id === id);
            if (!entry) return {};
            const { settings: s, handlerFile } = entry.prepared;
            const handler = handlerFile ?? s.command ?? (typeof s.handler === "function" ? "a function" : "the mock handler");
            return { handler, handlerVersion: entry.endpoint.pool.handlerVersion };
          },
        },
        onInternalError: internalError,
        workerBodyLimit: internals.workerBodyLimit,
      });
      const channels = workerChannels(queues, internalError, { bodyLimit: internals.workerBodyLimit, frameMs: internals.channelFrameMs });
      const { server, closeSubscriptions } = createApiServer(app, warn, undefined, (req, socket, head) => {
        if (channels.accept(req, socket, head)) return true;
        const balanced = endpointFromHost(req.headers.host, loadBalancers);
        if (!balanced) return false;
        proxy.upgrade(balanced.endpoint, req, socket, head).catch(() => socket.destroy());
        return true;
      });
      resources.servers.push(server);
      resources.feeds.push(closeSubscriptions, () => channels.close());
      const webhooks = new WebhookSender(
        events,
        new WebhookStore(resources.db, space),
        { retries: 2, retryDelayMs: settings.webhookRetryDelay, timeoutMs: settings.webhookTimeout },
        (message, jobId) => events.emit({ type: "warning", endpointId: jobStore.get(jobId)?.endpointId ?? firstId, time: clock.now(), message, jobId }),
      );
      resources.feeds.push(() => webhooks.close());
      await warmUp(app, firstId);
      await listen(server, settings.port, host);
      const port = (server.address() as AddressInfo).port;

      const running = new Map<string, RunningEndpoint>();
      let nextPort = settings.port === 0 ? 0 : port + 1;
      for (const { prepared: p, endpoint, version } of built) {
        const s = p.settings;
        if (p.type === "queue") {
          running.set(endpoint.id, { type: "queue", id: endpoint.id, url: `${httpBase(host, port)}/v2/${endpoint.id}`, endpoint: endpoint as Endpoint<Pool>, runtime: p.runtime as Runtime, settings: s });
        } else {
          const target = loadBalancers.get(endpoint.id) as ProxyTarget;
          const own = createLoadBalancerServer(proxy, target, warn);
          resources.servers.push(own);
          const wanted = s.lbPort ?? (nextPort === 0 ? 0 : nextPort++);
          await listen(own, wanted, host, `load-balancing endpoint ${endpoint.id}: `, "set its lbPort to another port, or 0");
          const ownPort = (own.address() as AddressInfo).port;
          lbPorts.set(endpoint.id, ownPort);
          const hostUrl = `http://${endpoint.id}.localhost:${port}`;
          running.set(endpoint.id, { type: "load-balancing", id: endpoint.id, url: httpBase(host, ownPort), endpoint: endpoint as LoadBalancingEndpoint<Pool>, runtime: p.runtime as Runtime, settings: s, server: own, hostUrl });
        }
        if (version && p.watchRoot && s.watch) {
          const reloads = { root: p.watchRoot, version, pool: endpoint.pool, endpoint, bus: events, debounceMs: s.reloadDebounce };
          resources.feeds.push(await watchForReload(reloads));
        }
      }
      const emulator = new RunningEmulator(events, running, detected, [...new Set(prepared.flatMap((p) => p.dotEnvKeys))], volumes, resources, port, host);
      if (databasePath) {
        const handlers = Object.fromEntries(prepared.flatMap((p) => (p.handlerFile ? [[p.settings.endpointId, p.handlerFile]] : [])));
        const endpoints = built.map((b) => b.endpoint.id);
        writeServerInfo(databasePath, { pid: process.pid, url: emulator.url, apiKey: settings.apiKey, handlers, endpoints, controlKey });
      }
      if (resources.pools.length > 0) sweepWorkerFolders();
      for (const pool of resources.pools) pool.start(workerApiBase(host, port));
      return emulator;
    } catch (error) {
      // The start's own error is the one to report, not a second one met while cleaning up after it.
      await release(resources).catch(() => {});
      throw error;
    }
  }

  history(id: string): JobDetails | undefined {
    this.resources.logs?.flush();
    return jobDetails(this.resources.db, id, this.first.endpoint.clock.now());
  }

  on<T extends EmulatorEvent["type"]>(type: T, listener: (event: EmulatorEventOf<T>) => void): () => void {
    return this.events.on((event) => {
      if (event.type === type) listener(event as EmulatorEventOf<T>);
    });
  }

  close(): Promise<void> {
    this.closing ??= release(this.resources);
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The environment and working folder a new worker of an endpoint (the first, or `endpointId`) would get
 * from an emulator started with `settings` and reached at `apiBase` (by default where those settings
 * listen): what `emulator shell` opens when no worker is running. Its token is no registered worker's.
 */
export async function newWorkerEnvironment(
  settings: Settings,
  endpointId?: string,
  apiBase = workerApiBase(settings.host, settings.port),
): Promise<{ endpointId: string; workerId: string; cwd: string; env: Record<string, string>; volume: string | undefined }> {
  const declared = endpointSettings(settings);
  const decl = endpointId === undefined ? declared[0] : declared.find((d) => d.endpointId === endpointId);
  if (!decl) throw userError("ERR_BAD_OPTION", `--endpoint ${endpointId}: no such endpoint (endpoints: ${declared.map((d) => d.endpointId).join(", ")})`);
  const p = await prepare(decl, settings.apiKey);
  const detected = p.needsGpus ? await detectGpus(settings.env ?? process.env) : [];
  const gpus = new GpuAllocator(selectGpus(detected, decl.gpus), decl.gpusPerWorker, undefined, decl.gpuType);
  const workerId = `shell-${randomBytes(2).toString("hex")}`;
  const secret = randomBytes(24).toString("base64url");
  const protocol = p.type === "queue" ? protocolEnvironment({ endpointId: decl.endpointId, secret, apiBase, pingIntervalMs: decl.pingInterval }) : {};
  const env = workerEnvironment({
    base: p.env,
    endpointId: decl.endpointId,
    workerId,
    apiBase,
    protocol,
    gpus: gpus.environment(gpus.allocate() ?? []),
    runtime: p.runtime?.environment ?? {},
  });
  return { endpointId: decl.endpointId, workerId, cwd: p.cwd, env, volume: p.volume };
}

/** Limits that are no option of the emulator, lowered by its own tests to reach them cheaply. */
export interface Internals {
  /** The largest body a worker may post (default 256 MB). */
  workerBodyLimit?: number;
  /** How long a frame on a worker channel may take to arrive once begun (default 2 minutes). */
  channelFrameMs?: number;
}

/** An endpoint's runtime and environment, made before anything is acquired. */
interface Prepared {
  type: "queue" | "load-balancing";
  settings: Settings;
  /** A load-balancing endpoint's is made with the endpoint it reports to. */
  runtime?: Runtime;
  cwd: string;
  env: Record<string, string>;
  dotEnvKeys: string[];
  /** The folder whose changes roll the workers: the handler's, or a load-balancing endpoint's working folder. */
  watchRoot: string | undefined;
  /** A queue endpoint's handler file (absolute), recorded with each job. */
  handlerFile?: string;
  needsGpus: boolean;
  /** Its network volume's folder, absolute. */
  volume: string | undefined;
}

interface Built {
  prepared: Prepared;
  endpoint: Endpoint<Pool> | LoadBalancingEndpoint<Pool>;
  version: HandlerVersion | undefined;
}

async function prepare(settings: Settings, apiKey: string | undefined): Promise<Prepared> {
  const cwd = resolve(settings.cwd ?? process.cwd());
  const { env, keys: dotEnvKeys } = loadDotEnv(cwd, settings.env ?? process.env);
  // How a handler calls another endpoint through the emulator: the official SDK's client reads its key
  // from RUNPOD_API_KEY. With a key set, that is the emulator's; without, any key passes, but the SDK
  // refuses to send a request with none.
  if (apiKey !== undefined) env.RUNPOD_API_KEY = apiKey;
  else env.RUNPOD_API_KEY ??= "local";
  const needsGpus = settings.gpus !== "none";
  const volume = settings.volume === undefined ? undefined : resolve(cwd, settings.volume);
  if (settings.type === "load-balancing") return { type: "load-balancing", settings, cwd, env, dotEnvKeys, watchRoot: cwd, needsGpus, volume };
  const handler = settings.mock ? "mock" : settings.handler;
  if (handler === undefined) throw userError("ERR_HANDLER_NOT_FOUND", `no handler given${endpointName(settings)}; pass the path of handler.py or handler.js, a function, or mock`);
  const handlerPath = typeof handler === "string" && handler !== "mock" ? requireHandler(cwd, handler) : undefined;
  const runtime =
    typeof handler === "function"
      ? (debuggerOf(settings, "function"), functionRuntime(handler))
      : handlerPath
        ? await runtimeFor(handlerPath, settings, cwd, env)
        : mockRuntime(debuggerOf(settings, "node"));
  return { type: "queue", settings, runtime, cwd, env, dotEnvKeys, watchRoot: handlerPath ? dirname(handlerPath) : undefined, handlerFile: handlerPath, needsGpus, volume };
}

function poolSettingsOf(p: Prepared, gpus: GpuAllocator, version: HandlerVersion | undefined, volume: NetworkVolume | undefined): PoolSettings {
  const s = p.settings;
  // A worker that waits for the debugger holds the job for it: no other worker may take the job meanwhile.
  const oneWorker = p.runtime?.debug?.wait === true;
  return {
    minWorkers: oneWorker ? Math.min(s.minWorkers, 1) : s.minWorkers,
    maxWorkers: oneWorker ? 1 : s.maxWorkers,
    extraWorkers: oneWorker ? 0 : s.extraWorkers,
    idleTimeoutMs: s.idleTimeout,
    // Load-balancing endpoints scale by request count, as hosted: there is no queue to wait in.
    scaler:
      s.scaler === "request-count" || p.type === "load-balancing"
        ? { kind: "request-count", jobsPerWorker: s.requestsPerWorker }
        : { kind: "queue-delay", delayMs: s.queueDelay },
    coldStartMs: s.coldStart,
    flashboot: s.flashboot,
    stopGraceMs: s.stopGrace,
    cwd: p.cwd,
    env: p.env,
    gpus,
    memoryLimit: s.workerMemory,
    volume,
    handlerVersion: () => version?.current,
  };
}

/** Two endpoints' workers cannot hold one debugger port. */
function checkDebugPorts(prepared: Prepared[]): void {
  const owners = new Map<number, string>();
  for (const { runtime, settings } of prepared) {
    const port = runtime?.debug?.port;
    if (port === undefined) continue;
    const other = owners.get(port);
    if (other !== undefined) throw userError("ERR_BAD_OPTION", `endpoints "${other}" and "${settings.endpointId}" both debug on port ${port}; give one of them its own port in its entry`);
    owners.set(port, settings.endpointId);
  }
}

function endpointName(settings: Settings): string {
  return settings.endpoints === undefined && settings.endpointId === "local" ? "" : ` for endpoint "${settings.endpointId}"`;
}

function corsSetting(cors: string[] | undefined): CorsSetting {
  return cors?.includes("*") ? "*" : cors;
}

function hostPolicy(settings: Settings): HostPolicy {
  return { boundHost: settings.host, allowedHosts: settings.allowedHosts ?? [], anyHost: settings.apiKey !== undefined && !isLoopback(settings.host) };
}

/** `http://HOST:PORT`, with an IPv6 address in brackets. */
function httpBase(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Pings a worker may miss before it counts as unresponsive (SPEC §2.1: the SDK pings every interval). */
const MISSED_PINGS = 3;

/** What an emulator holds, acquired one by one by start() and released together by release(). */
interface Resources {
  db: Database;
  databasePath: string | null;
  pools: Pool[];
  /** The endpoints' cores, which hold long-polls and timers. */
  cores: { close(): void }[];
  /** The API's server first, then the load-balancing endpoints' own. */
  servers: Server[];
  /** Worker output lines waiting for their write. */
  logs?: LogStore;
  /** Whose writes of the current turn wait for their commit. */
  jobStore?: JobStore;
  /** Held while the emulator owns the database file; its holder wrote the server file beside it. */
  lock?: DatabaseLock;
  /** Stop the WebSocket feed, webhook deliveries and the file watcher. */
  feeds: (() => unknown)[];
}

/**
 * Releases whatever `resources` holds, in an order that lets workers finish: stop the workers (the
 * server still answers them while their output drains: a take is held, a late result is kept), stop
 * accepting, the feeds, answer open long-polls, drop connections, then the database. Every step runs even
 * if one fails; the first failure is rethrown at the end.
 */
async function release(resources: Resources): Promise<void> {
  const { db, databasePath, lock, pools, cores, servers, feeds } = resources;
  const steps: (() => unknown)[] = [
    () => lock && databasePath && markStopping(databasePath),
    () => Promise.all(pools.map((pool) => pool.close())),
    ...servers.map((server) => () => server.close()),
    ...feeds,
    ...cores.map((core) => () => core.close()),
    ...servers.map((server) => () => server.closeAllConnections()),
    () => resources.logs?.flush(),
    () => resources.jobStore?.commitTurn(),
    () => lock && databasePath && removeServerInfo(databasePath),
    () => db.close(),
    () => lock?.release(),
  ];
  let failure: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}

/** Deletes the oldest finished jobs beyond `limit`: at start, then after every 1,000 finished jobs. */
function keepHistoryBounded(store: JobStore, logs: LogStore, events: EventBus, limit: number): void {
  store.prune(limit);
  let finished = 0;
  events.on((event) => {
    if (event.type !== "status" || !isTerminal(event.job.status) || ++finished % 1000 !== 0) return;
    // Lines still waiting for their write would outlive their pruned job.
    logs.flush();
    store.prune(limit);
  });
}

function requireHandler(cwd: string, handler: string): string {
  const path = resolve(cwd, handler);
  if (!existsSync(path) || !statSync(path).isFile()) throw userError("ERR_HANDLER_NOT_FOUND", `handler file not found: ${handler}`);
  return path;
}

async function runtimeFor(path: string, settings: Settings, cwd: string, env: NodeJS.ProcessEnv): Promise<Runtime> {
  const extension = extname(path);
  if (extension === ".py") return pythonRuntime(path, findPython(settings.python, cwd, env), cwd, env, settings.sdk, debuggerOf(settings, "python"));
  if (NODE_EXTENSIONS.has(extension)) return nodeRuntime(path, debuggerOf(settings, "node"));
  throw userError("ERR_HANDLER_NOT_FOUND", `cannot run ${path}: a handler is a .py file or a Node module (.js, .mjs, .cjs, .ts)`);
}

/** Where workers reach the API of an emulator listening on `host`:`port`. */
function workerApiBase(host: string, port: number): string {
  return `http://${workerHost(host)}:${port}/v2`;
}

/** The debugger an endpoint's workers run under, if any; a user error for one its handler cannot have. */
function debuggerOf(settings: Settings, handler: "node" | "python" | "function"): DebugSetting | undefined {
  const inspect = settings.inspect ?? (settings.inspectWait ? INSPECT_PORT : undefined);
  const debugpy = settings.debugpy ?? (settings.debugpyWait ? DEBUGPY_PORT : undefined);
  const refuse = (what: string, instead: string) => userError("ERR_BAD_OPTION", `${what}${endpointName(settings)}: ${instead}`);
  if (handler === "function" && (inspect ?? debugpy) !== undefined) {
    throw refuse("--inspect and --debugpy start workers under a debugger", "a function handler runs in this process; start node itself with --inspect");
  }
  if (inspect !== undefined && debugpy !== undefined) throw refuse("--inspect and --debugpy cannot both be on", "--inspect is for Node handlers, --debugpy for Python ones");
  if (inspect !== undefined && handler !== "node") throw refuse("--inspect is for Node handlers", "for a .py handler, use --debugpy");
  if (debugpy !== undefined && handler !== "python") throw refuse("--debugpy is for Python handlers", "for a Node handler, use --inspect");
  if (inspect !== undefined) return { port: inspect, wait: settings.inspectWait };
  if (debugpy !== undefined) return { port: debugpy, wait: settings.debugpyWait };
  return undefined;
}

/** How workers reach the API: loopback unless the server is bound to one specific address. */
function workerHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "localhost") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

function listen(server: Server, port: number, host: string, what = "", remedy = "pass --port 0 or another port"): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") reject(userError("ERR_PORT_IN_USE", `${what}port ${port} is in use; ${remedy}`));
      else reject(new EmulatorError("ERR_LISTEN", `${what}cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolvePromise();
    });
  });
}
