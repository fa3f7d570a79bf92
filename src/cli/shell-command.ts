import { constants } from "node:os";
import { resolve } from "node:path";
import { execa } from "execa";
import type { LiveWorkerEnvironment } from "../api/worker-environment-route.js";
import { newWorkerEnvironment } from "../emulator.js";
import { userError } from "../errors.js";
import { text } from "../options/option-kinds.js";
import { type ServerInfo, readServerInfo } from "../store/server-info.js";
import { MOUNT_POINT } from "../workers/network-volume.js";
import { createWorkerFolder } from "../workers/worker-folder.js";
import type { CommandOutput } from "./command-output.js";
import { type CommandSpec, readArguments, resolveCommandLine } from "./flags.js";
import { networkReason } from "./follow-job.js";
import { requireHandler } from "./handler-discovery.js";

const SHELL: CommandSpec = { command: "emulator shell", flags: { endpoint: text() } };

const USAGE = `Usage: emulator shell [WORKER] [--endpoint ID] [options] [-- COMMAND [ARGS…]]

Opens your shell ($SHELL, else /bin/sh), or runs COMMAND, with the environment and working folder of a
worker: RUNPOD_* (the protocol's URLs, RUNPOD_POD_ID…), CUDA_VISIBLE_DEVICES, the .env values and the
PYTHONPATH of the bundled module when it is in use — the local counterpart of SSH into a worker.
With an emulator running on this folder's database, the shell mirrors its worker WORKER, or its first
running one; with none running (or no worker yet), it gets what a new worker would get, under a worker
id and token that no emulator knows. --endpoint picks the endpoint of a config file with several.
Exits with COMMAND's exit status (the shell's, without one). Every option of emulator applies (see
emulator --help): the handler, --python, --gpus, --db… say which worker is meant.`;

/** `emulator shell [WORKER] [-- COMMAND…]`: a shell, or one command, in a worker's environment. */
export async function shellCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, output: CommandOutput): Promise<number> {
  const split = argv.indexOf("--");
  const command = split === -1 ? [] : argv.slice(split + 1);
  const args = readArguments(split === -1 ? argv : argv.slice(0, split), SHELL);
  if (args.help) {
    output.out(USAGE);
    return 0;
  }
  const line = resolveCommandLine(args, env, cwd, SHELL);
  for (const warning of line.warnings) output.err(`warning: ${warning}`);
  if (args.positionals.length > 1) throw userError("ERR_BAD_OPTION", `expected at most one worker id, got: ${args.positionals.join(" ")}; a command goes after --`);
  const workerId = args.positionals[0];
  const endpointId = line.flags.endpoint as string | undefined;
  const { settings } = line;
  const running = settings.inMemory ? undefined : readServerInfo(resolve(cwd, settings.db));

  const live = running?.url && running.controlKey ? await liveWorker(running, endpointId, workerId) : undefined;
  if (workerId !== undefined && !live) {
    const where = running ? `the emulator on ${resolve(cwd, settings.db)} (pid ${running.pid}) has no running worker "${workerId}"` : `no emulator is running on ${resolve(cwd, settings.db)}`;
    throw userError("ERR_BAD_OPTION", `${where}; without WORKER, the shell gets the environment of a new worker`);
  }
  let removeFolder = () => {};
  let worker: LiveWorkerEnvironment;
  if (live) {
    worker = live;
    output.err(`shell in worker ${worker.workerId}'s environment (the emulator at ${running?.url}); exit to leave`);
  } else {
    // The running emulator's handler, unless one is named: the shell is for its workers.
    const serving = running?.handlers?.[endpointId ?? running.endpoints?.[0] ?? ""];
    if (serving && settings.handler === undefined && !settings.mock && settings.endpoints === undefined) settings.handler = serving;
    if (settings.endpoints === undefined && settings.type !== "load-balancing") requireHandler(line, cwd, "; run in the handler's folder, or name it in emulator.config.json");
    // A running emulator's URL, so that a handler started in the shell reaches it.
    const apiBase = running?.url ? running.url.slice(0, running.url.lastIndexOf("/")) : undefined;
    const planned = await newWorkerEnvironment({ ...settings, cwd, env }, endpointId, apiBase);
    // The private folder a worker would have, and its volume as seen without a mount namespace.
    const folder = createWorkerFolder(planned.workerId);
    removeFolder = () => folder.remove();
    const volume: Record<string, string> = planned.volume === undefined ? {} : { RUNPOD_VOLUME_PATH: planned.volume };
    worker = { workerId: planned.workerId, cwd: planned.cwd, env: { ...planned.env, ...folder.env, ...volume } };
    const why = running ? "no worker is running" : "no emulator is running here";
    output.err(`shell in the environment of a new worker ${worker.workerId} of endpoint ${planned.endpointId} (${why}); exit to leave`);
  }
  if (worker.env.RUNPOD_VOLUME_PATH === MOUNT_POINT) output.err(`note: the worker sees its network volume at ${MOUNT_POINT}, a mount of its own that this shell does not have`);
  try {
    return await runIn(worker, command, env);
  } finally {
    removeFolder();
  }
}

/** The running worker's environment from the emulator's route; undefined when it runs none (or not that one). */
async function liveWorker(running: ServerInfo, endpointId: string | undefined, workerId: string | undefined): Promise<LiveWorkerEnvironment | undefined> {
  const endpoints = running.endpoints ?? [];
  const endpoint = endpointId ?? endpoints[0];
  if (endpoint === undefined) return undefined;
  if (endpointId !== undefined && !endpoints.includes(endpointId)) {
    throw userError("ERR_BAD_OPTION", `--endpoint ${endpointId}: the emulator at ${running.url} has no such endpoint (endpoints: ${endpoints.join(", ")})`);
  }
  const base = (running.url as string).slice(0, (running.url as string).lastIndexOf("/"));
  const query = workerId === undefined ? "" : `?worker=${encodeURIComponent(workerId)}`;
  let response: Response;
  try {
    response = await fetch(`${base}/${encodeURIComponent(endpoint)}/worker-environment${query}`, { headers: { Authorization: `Bearer ${running.controlKey}` } });
  } catch (error) {
    throw userError("ERR_UNREACHABLE", `cannot reach the emulator at ${running.url}: ${networkReason(error)}`, { cause: error });
  }
  if (response.status === 404) return undefined;
  const body = (await response.json().catch(() => ({}))) as LiveWorkerEnvironment & { error?: string };
  if (!response.ok) throw userError("ERR_REQUEST_FAILED", `the emulator at ${running.url} refused a worker's environment (${response.status}): ${body.error ?? ""}`);
  return body;
}

/** Runs the command, or the user's shell, in the worker's folder and environment; its exit status. */
async function runIn(worker: LiveWorkerEnvironment, command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [file, ...args] = command.length > 0 ? command : [env.SHELL || "/bin/sh"];
  // Ctrl-C belongs to the shell and what runs in it, in the same terminal: it must not end this process.
  const ignore = () => {};
  process.on("SIGINT", ignore);
  try {
    const result = await execa(file as string, args, { cwd: worker.cwd, env: worker.env, extendEnv: false, stdio: "inherit", reject: false });
    if (result.exitCode !== undefined) return result.exitCode;
    if (result.signal) return 128 + (constants.signals[result.signal] ?? 0);
    const code = (result as { code?: string }).code;
    throw userError("ERR_BAD_OPTION", `cannot run ${file}: ${code === "ENOENT" ? "no such command (ENOENT)" : result.shortMessage?.split("\n")[0]}`);
  } finally {
    process.off("SIGINT", ignore);
  }
}
