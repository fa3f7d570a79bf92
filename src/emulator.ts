import { existsSync, statSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, resolve } from "node:path";
import { createApiApp } from "./api/app.js";
import { createApiServer } from "./api/server.js";
import { WebhookSender } from "./api/webhooks.js";
import { systemClock } from "./core/clock.js";
import { Endpoint } from "./core/endpoint.js";
import { type EmulatorEvent, EventBus } from "./core/events.js";
import { isTerminal } from "./core/job.js";
import type { Emulator, EmulatorEventOf } from "./emulator-interface.js";
import { EmulatorError, userError } from "./errors.js";
import { type EmulatorOptions, type Settings, resolveOptions } from "./options.js";
import type { Database } from "./store/database.js";
import { type DatabaseLock, openOwnDatabase } from "./store/database-lock.js";
import { JobStore } from "./store/jobs.js";
import { LogStore } from "./store/logs.js";
import { WebhookStore } from "./store/webhooks.js";
import { type JobDetails, jobDetails } from "./store/history.js";
import { removeServerInfo, writeServerInfo } from "./store/server-info.js";
import { type Gpu, GpuAllocator, detectGpus, selectGpus } from "./workers/gpus.js";
import { Pool, type PoolSettings } from "./workers/pool.js";
import { functionRuntime, mockRuntime, nodeRuntime } from "./workers/runtimes/node.js";
import { findPython, pythonRuntime } from "./workers/runtimes/python.js";
import type { Runtime } from "./workers/runtimes/runtime.js";
import { loadDotEnv } from "./workers/environment.js";
import { HandlerVersion } from "./watch/handler-version.js";
import { watchForReload } from "./watch/reload.js";

const NODE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"]);

/**
 * A running emulator: one HTTP server, one endpoint with its pool, one job database. Users see it through
 * the narrower `Emulator` interface; the CLI and the tests reach its parts.
 */
export class RunningEmulator implements Emulator {
  readonly url: string;
  readonly baseUrl: string;
  readonly endpointId: string;
  readonly port: number;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly events: EventBus,
    readonly endpoint: Endpoint<Pool>,
    readonly runtime: Runtime,
    readonly gpus: Gpu[],
    /** Variables taken from the project's .env file. */
    readonly dotEnvKeys: string[],
    private readonly resources: Resources,
    server: Server,
    host: string,
  ) {
    this.port = (server.address() as AddressInfo).port;
    this.endpointId = endpoint.id;
    this.baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${this.port}/v2`;
    this.url = `${this.baseUrl}/${endpoint.id}`;
  }

  /** The endpoint's pool of worker processes. */
  get pool(): Pool {
    return this.endpoint.pool;
  }

  /** Where jobs are kept: a file path, or null in memory. */
  get databasePath(): string | null {
    return this.resources.databasePath;
  }

  /**
   * What createEmulator() does, with the internal type: checks the options, then starts. In memory, on a
   * free port and without watching files unless told otherwise.
   */
  static async create(options: EmulatorOptions = {}): Promise<RunningEmulator> {
    // Read before the check, which refuses options that are not an object with a clear message.
    const db = (options as { db?: unknown } | null)?.db;
    return RunningEmulator.start(resolveOptions(options, { defaults: { port: 0, inMemory: db === undefined || db === null, watch: false } }));
  }

  /**
   * Starts an emulator from checked options; rejects with a user error for a missing handler, a port in
   * use, and so on. The database is recovered before the server listens; a start that fails part-way
   * releases what it took.
   */
  static async start(settings: Settings): Promise<RunningEmulator> {
    const cwd = resolve(settings.cwd ?? process.cwd());
    const processEnv = settings.env ?? process.env;
    const { env, keys: dotEnvKeys } = loadDotEnv(cwd, processEnv);
    const clock = settings.clock ?? systemClock;
    const handler = settings.mock ? "mock" : settings.handler;
    if (handler === undefined) throw userError("ERR_HANDLER_NOT_FOUND", "no handler given; pass the path of handler.py or handler.js, a function, or mock");
    const handlerPath = typeof handler === "string" && handler !== "mock" ? requireHandler(cwd, handler) : undefined;
    const runtime =
      typeof handler === "function" ? functionRuntime(handler) : handlerPath ? await runtimeFor(handlerPath, settings, cwd, env) : mockRuntime();
    const gpus = selectGpus(await detectGpus(env), settings.gpus);
    if (gpus.length > 0 && settings.gpusPerWorker > gpus.length) {
      throw userError("ERR_BAD_OPTION", `gpusPerWorker (--gpus-per-worker) is ${settings.gpusPerWorker}, more than the ${gpus.length} GPUs selected`);
    }

    const databasePath = settings.inMemory ? null : resolve(cwd, settings.db);
    const { db, lock } = openOwnDatabase(databasePath);
    const resources: Resources = { db, databasePath, lock, feeds: [] };
    try {
      const events = new EventBus();
      if (settings.onEvent) events.on(settings.onEvent);
      const jobStore = new JobStore(resources.db);
      keepHistoryBounded(jobStore, events, settings.historyLimit);
      const version = handlerPath ? new HandlerVersion(dirname(handlerPath)) : undefined;
      const poolSettings: PoolSettings = {
        minWorkers: settings.minWorkers,
        maxWorkers: settings.maxWorkers,
        idleTimeoutMs: settings.idleTimeout,
        scaler:
          settings.scaler === "request-count"
            ? { kind: "request-count", jobsPerWorker: settings.requestsPerWorker }
            : { kind: "queue-delay", delayMs: settings.queueDelay },
        coldStartMs: settings.coldStart,
        flashboot: settings.flashboot,
        stopGraceMs: settings.stopGrace,
        pingIntervalMs: settings.pingInterval,
        cwd,
        env,
        gpus: new GpuAllocator(gpus, settings.gpusPerWorker),
        handlerVersion: () => version?.current,
      };
      const endpoint = new Endpoint(
        {
          id: settings.endpointId,
          executionTimeout: settings.executionTimeout,
          ttl: settings.ttl,
          retention: { run: settings.runRetention, runsync: settings.runsyncRetention },
          resultLimit: { run: settings.maxRunBody, runsync: settings.maxRunsyncBody },
          pollHoldMs: settings.pollHold,
          releaseGraceMs: settings.releaseGrace,
          pingTimeoutMs: settings.pingTimeout ?? settings.pingInterval * MISSED_PINGS,
          handlerFile: handlerPath,
        },
        { store: jobStore, logs: new LogStore(resources.db), bus: events, clock },
        (self) => new Pool(self, runtime, poolSettings),
      );
      resources.endpoint = endpoint;
      endpoint.recover();

      const host = settings.host;
      const endpoints = new Map([[endpoint.id, endpoint]]);
      const app = createApiApp({
        endpoints,
        bus: events,
        apiKey: settings.apiKey,
        limits: endpoint.settings.resultLimit,
        cors: settings.cors?.includes("*") ? "*" : settings.cors,
        boundHost: host,
        allowedHosts: settings.allowedHosts ?? [],
        allowWebhookHosts: settings.allowWebhookHosts ?? [],
        onInternalError: (error) => endpoint.warn(`internal error, please report: ${(error as Error).stack ?? error}`),
      });
      const { server, closeSubscriptions } = createApiServer(app, (message) => endpoint.warn(message));
      resources.server = server;
      resources.feeds.push(closeSubscriptions);
      const webhooks = new WebhookSender(
        events,
        new WebhookStore(resources.db),
        { retries: 2, retryDelayMs: settings.webhookRetryDelay, timeoutMs: settings.webhookTimeout },
        (message, jobId) => endpoint.warn(message, jobId),
      );
      resources.feeds.push(() => webhooks.close());
      await listen(server, settings.port, host);

      if (version && handlerPath && settings.watch) {
        const reloads = { root: dirname(handlerPath), version, pool: endpoint.pool, endpoint, bus: events, debounceMs: settings.reloadDebounce };
        resources.feeds.push(await watchForReload(reloads));
      }
      const emulator = new RunningEmulator(events, endpoint, runtime, gpus, dotEnvKeys, resources, server, host);
      if (databasePath) {
        const handlers = handlerPath ? { [endpoint.id]: handlerPath } : {};
        writeServerInfo(databasePath, { pid: process.pid, url: emulator.url, apiKey: settings.apiKey, handlers });
      }
      endpoint.pool.start(`http://${workerHost(host)}:${emulator.port}/v2`);
      return emulator;
    } catch (error) {
      // The start's own error is the one to report, not a second one met while cleaning up after it.
      await release(resources).catch(() => {});
      throw error;
    }
  }

  history(id: string): JobDetails | undefined {
    return jobDetails(this.resources.db, id, this.endpoint.clock.now());
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

/** Pings a worker may miss before it counts as unresponsive (SPEC §2.1: the SDK pings every interval). */
const MISSED_PINGS = 3;

/** What an emulator holds, acquired one by one by start() and released together by release(). */
interface Resources {
  db: Database;
  databasePath: string | null;
  endpoint?: Endpoint<Pool>;
  server?: Server;
  /** Held while the emulator owns the database file; its holder wrote the server file beside it. */
  lock?: DatabaseLock;
  /** Stop the WebSocket feed, webhook deliveries and the file watcher. */
  feeds: (() => unknown)[];
}

/**
 * Releases whatever `resources` holds, in an order that lets workers finish: stop accepting, stop the
 * workers, the feeds, answer open long-polls, drop connections, then the database. Every step runs even
 * if one fails; the first failure is rethrown at the end.
 */
async function release(resources: Resources): Promise<void> {
  const { db, databasePath, lock, endpoint, server, feeds } = resources;
  const steps: (() => unknown)[] = [
    () => server?.close(),
    () => endpoint?.pool.close(),
    ...feeds,
    () => endpoint?.close(),
    () => server?.closeAllConnections(),
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
function keepHistoryBounded(store: JobStore, events: EventBus, limit: number): void {
  store.prune(limit);
  let finished = 0;
  events.on((event) => {
    if (event.type === "status" && isTerminal(event.job.status) && ++finished % 1000 === 0) store.prune(limit);
  });
}

function requireHandler(cwd: string, handler: string): string {
  const path = resolve(cwd, handler);
  if (!existsSync(path) || !statSync(path).isFile()) throw userError("ERR_HANDLER_NOT_FOUND", `handler file not found: ${handler}`);
  return path;
}

async function runtimeFor(path: string, settings: Settings, cwd: string, env: NodeJS.ProcessEnv): Promise<Runtime> {
  const extension = extname(path);
  if (extension === ".py") return pythonRuntime(path, findPython(settings.python, cwd, env), cwd, env, settings.sdk);
  if (NODE_EXTENSIONS.has(extension)) return nodeRuntime(path);
  throw userError("ERR_HANDLER_NOT_FOUND", `cannot run ${path}: a handler is a .py file or a Node module (.js, .mjs, .cjs, .ts)`);
}

/** How workers reach the API: loopback unless the server is bound to one specific address. */
function workerHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "localhost") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") reject(userError("ERR_PORT_IN_USE", `port ${port} is in use; pass --port 0 or another port`));
      else reject(new EmulatorError("ERR_LISTEN", `cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolvePromise();
    });
  });
}
