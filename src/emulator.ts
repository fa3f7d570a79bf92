import { existsSync, statSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, resolve } from "node:path";
import { createApiServer } from "./api/server.js";
import { attachWebSocket } from "./api/websocket.js";
import { WebhookSender } from "./api/webhooks.js";
import { systemClock } from "./core/clock.js";
import { Endpoint } from "./core/endpoint.js";
import { EventBus } from "./core/events.js";
import { isTerminal } from "./core/job.js";
import { EmulatorError, userError } from "./errors.js";
import { type EmulatorOptions, defaults } from "./options.js";
import { type Database, openDatabase } from "./store/database.js";
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

/** A running emulator: one HTTP server, one endpoint with its pool, one job database. */
export class Emulator {
  /** `http://HOST:PORT/v2/ENDPOINT_ID`: this endpoint's URL, as `https://api.runpod.ai/v2/ID`. */
  readonly url: string;
  /** `http://HOST:PORT/v2`: the `baseUrl` of the official JavaScript client (`runpodSdk(key, { baseUrl })`). */
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
   * Starts an emulator; rejects with a user error for a missing handler, a port in use, and so on. The
   * database is recovered before the server listens; a start that fails part-way releases what it took.
   */
  static async start(options: EmulatorOptions): Promise<Emulator> {
    const cwd = resolve(options.cwd ?? process.cwd());
    const processEnv = options.env ?? process.env;
    const { env, keys: dotEnvKeys } = loadDotEnv(cwd, processEnv);
    const clock = options.clock ?? systemClock;
    const handler = options.mock ? "mock" : options.handler;
    if (handler === undefined || handler === "") throw userError("ERR_HANDLER_NOT_FOUND", "no handler given; pass the path of handler.py or handler.js, a function, or mock");
    const handlerPath = typeof handler === "string" && handler !== "mock" ? requireHandler(cwd, handler) : undefined;
    const runtime =
      typeof handler === "function" ? functionRuntime(handler) : handlerPath ? await runtimeFor(handlerPath, options, cwd, env) : mockRuntime();
    const gpus = selectGpus(await detectGpus(env), options.gpus ?? defaults.gpus);
    const gpusPerWorker = options.gpusPerWorker ?? 1;
    if (gpus.length > 0 && (gpusPerWorker < 1 || gpusPerWorker > gpus.length)) {
      throw userError("ERR_BAD_OPTION", `--gpus-per-worker ${gpusPerWorker}: must be between 1 and the ${gpus.length} GPUs selected`);
    }

    const databasePath = options.inMemory ? null : resolve(cwd, options.db ?? ".runpod-emulator/emulator.db");
    const resources: Resources = { db: openDatabase(databasePath), databasePath, feeds: [] };
    try {
      const events = new EventBus();
      if (options.onEvent) events.on(options.onEvent);
      const jobStore = new JobStore(resources.db);
      keepHistoryBounded(jobStore, events, options.historyLimit ?? defaults.historyLimit);
      const version = handlerPath ? new HandlerVersion(dirname(handlerPath)) : undefined;
      const pingInterval = Math.max(1000, options.pingInterval ?? defaults.pingInterval);
      const poolSettings: PoolSettings = {
        minWorkers: options.minWorkers ?? defaults.minWorkers,
        maxWorkers: options.maxWorkers ?? defaults.maxWorkers,
        idleTimeoutMs: (options.idleTimeout ?? defaults.idleTimeout) * 1000,
        scaler:
          (options.scaler ?? defaults.scaler) === "request-count"
            ? { kind: "request-count", jobsPerWorker: options.requestsPerWorker ?? defaults.requestsPerWorker }
            : { kind: "queue-delay", delayMs: (options.queueDelay ?? defaults.queueDelay) * 1000 },
        coldStartMs: options.coldStart ?? defaults.coldStart,
        flashboot: options.flashboot ?? defaults.flashboot,
        stopGraceMs: options.stopGrace ?? defaults.stopGrace,
        pingIntervalMs: pingInterval,
        cwd,
        env,
        gpus: new GpuAllocator(gpus, gpusPerWorker),
        handlerVersion: () => version?.current,
      };
      const endpoint = new Endpoint(
        {
          id: options.endpointId ?? defaults.endpointId,
          executionTimeout: (options.executionTimeout ?? defaults.executionTimeout) * 1000,
          ttl: options.ttl ?? defaults.ttl,
          retention: { run: options.runRetention ?? defaults.runRetention, runsync: options.runsyncRetention ?? defaults.runsyncRetention },
          resultLimit: { run: options.maxRunBody ?? defaults.maxRunBody, runsync: options.maxRunsyncBody ?? defaults.maxRunsyncBody },
          pollHoldMs: options.pollHold ?? defaults.pollHold,
          releaseGraceMs: options.releaseGrace ?? defaults.releaseGrace,
          pingTimeoutMs: options.pingTimeout ?? pingInterval * MISSED_PINGS,
        },
        { store: jobStore, logs: new LogStore(resources.db), bus: events, clock },
        (self) => new Pool(self, runtime, poolSettings),
      );
      resources.endpoint = endpoint;
      endpoint.recover();

      const host = options.host ?? defaults.host;
      const endpoints = new Map([[endpoint.id, endpoint]]);
      const server = createApiServer({
        endpoints,
        apiKey: options.apiKey,
        limits: endpoint.settings.resultLimit,
        onInternalError: (error) => endpoint.warn(`internal error, please report: ${(error as Error).stack ?? error}`),
      });
      resources.server = server;
      resources.feeds.push(attachWebSocket(server, endpoints, events, options.apiKey));
      const webhooks = new WebhookSender(
        events,
        new WebhookStore(resources.db),
        { retries: 2, retryDelayMs: options.webhookRetryDelay ?? defaults.webhookRetryDelay, timeoutMs: options.webhookTimeout ?? defaults.webhookTimeout },
        (message, jobId) => endpoint.warn(message, jobId),
      );
      resources.feeds.push(() => webhooks.close());
      await listen(server, options.port ?? 0, host);

      if (version && handlerPath && (options.watch ?? defaults.watch)) {
        const reloads = { root: dirname(handlerPath), version, pool: endpoint.pool, endpoint, bus: events, debounceMs: options.reloadDebounce ?? defaults.reloadDebounce };
        resources.feeds.push(await watchForReload(reloads));
      }
      const emulator = new Emulator(events, endpoint, runtime, gpus, dotEnvKeys, resources, server, host);
      if (databasePath) {
        writeServerInfo(databasePath, { pid: process.pid, url: emulator.url, apiKey: options.apiKey });
        resources.serverInfo = true;
      }
      endpoint.pool.start(`http://${workerHost(host)}:${emulator.port}/v2`);
      return emulator;
    } catch (error) {
      // The start's own error is the one to report, not a second one met while cleaning up after it.
      await release(resources).catch(() => {});
      throw error;
    }
  }

  /** Everything the job history keeps about a job (also after the API forgot it), or undefined. */
  history(id: string): JobDetails | undefined {
    return jobDetails(this.resources.db, id, this.endpoint.clock.now());
  }

  /** Stops accepting requests, stops every worker (process groups), closes the database. Idempotent. */
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
  /** Stop the WebSocket feed, webhook deliveries and the file watcher. */
  feeds: (() => unknown)[];
  /** The server file beside the database was written. */
  serverInfo?: boolean;
}

/**
 * Releases whatever `resources` holds, in an order that lets workers finish: stop accepting, stop the
 * workers, the feeds, answer open long-polls, drop connections, then the database. Every step runs even
 * if one fails; the first failure is rethrown at the end.
 */
async function release(resources: Resources): Promise<void> {
  const { db, databasePath, endpoint, server, feeds, serverInfo } = resources;
  const steps: (() => unknown)[] = [
    () => server?.close(),
    () => endpoint?.pool.close(),
    ...feeds,
    () => endpoint?.close(),
    () => server?.closeAllConnections(),
    () => serverInfo && databasePath && removeServerInfo(databasePath),
    () => db.close(),
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

async function runtimeFor(path: string, options: EmulatorOptions, cwd: string, env: NodeJS.ProcessEnv): Promise<Runtime> {
  const extension = extname(path);
  if (extension === ".py") return pythonRuntime(path, findPython(options.python, cwd, env), cwd, env);
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
      else reject(new EmulatorError("ERR_LISTEN", `cannot listen on ${host}:${port}: ${error.message}`));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolvePromise();
    });
  });
}
