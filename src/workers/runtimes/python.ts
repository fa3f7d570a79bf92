import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { type ExecaError, execa } from "execa";
import { userError } from "../../errors.js";
import { DebugPort, type DebugSetting } from "../debug-port.js";
import { type Runtime, processRuntime, runtimeAsset } from "./runtime.js";

/** What one interpreter said about itself. */
export interface PythonProbe {
  /** The interpreter's real executable: spawning it skips version-manager shims. */
  executable: string;
  version: string;
  /** The version of the user's own `runpod` SDK, or null when it cannot be imported. */
  runpod: string | null;
}

/**
 * Also compiles the emulator's own Python files (the folders given as arguments) for this interpreter,
 * where they are stale: workers then load bytecode instead of compiling them at every start (≈ 10 ms).
 * py_compile writes the cache whatever PYTHONDONTWRITEBYTECODE says, which is about the user's files;
 * these are the package's own, and a folder that cannot be written is left as it is.
 */
const PROBE = `import json, sys
try:
    import compileall
    for folder in sys.argv[1:]:
        compileall.compile_dir(folder, quiet=2)
except Exception:
    pass
try:
    import runpod
    v = getattr(runpod, "__version__", "unknown")
except Exception:
    v = None
print(json.dumps({"executable": sys.executable, "version": sys.version.split()[0], "runpod": v}))`;

const probes = new Map<string, Promise<PythonProbe>>();

/** The interpreter to use, in the order of SPEC §3.1. */
export function findPython(explicit: string | undefined, cwd: string, env: NodeJS.ProcessEnv): string {
  if (explicit) return explicit;
  if (env.VIRTUAL_ENV) {
    const candidate = join(env.VIRTUAL_ENV, "bin", "python");
    if (existsSync(candidate)) return candidate;
  }
  const local = join(cwd, ".venv", "bin", "python");
  if (existsSync(local)) return local;
  for (const name of ["python3", "python"]) if (onPath(name, env)) return name;
  throw userError("ERR_PYTHON_NOT_FOUND", "no Python interpreter found (tried --python, $VIRTUAL_ENV, ./.venv, python3, python); pass --python PATH");
}

function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/** Asks an interpreter (once per process) for its executable and whether it has the runpod SDK. */
export function probePython(python: string, cwd: string, env: NodeJS.ProcessEnv): Promise<PythonProbe> {
  let probe = probes.get(python);
  if (!probe) {
    probe = execa(python, ["-c", PROBE, runtimeAsset("python", "site"), runtimeAsset("python", "bundled")], { cwd, env, extendEnv: false, timeout: 30_000, lines: true }).then(
      ({ stdout }) => JSON.parse(stdout.at(-1) ?? "") as PythonProbe,
      (error: ExecaError) => {
        probes.delete(python);
        throw userError("ERR_PYTHON_NOT_FOUND", `the Python interpreter "${python}" could not be run: ${error.shortMessage.split("\n")[0]}`);
      },
    );
    probes.set(python, probe);
  }
  return probe;
}

/**
 * Python handlers run as `python -u handler.py`: with the user's own runpod SDK when the interpreter has
 * one, else — or with `sdk: "bundled"` — with the bundled module, which then comes before the user's on
 * the path. The watchdog's sitecustomize always comes first on PYTHONPATH. With `debugpy`, the worker
 * holding its port runs as `python -u -m debugpy --listen 127.0.0.1:PORT [--wait-for-client] handler.py`.
 */
export async function pythonRuntime(
  handlerPath: string,
  python: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  sdkChoice: "auto" | "bundled" = "auto",
  debugpy?: DebugSetting,
): Promise<Runtime> {
  const probe = await probePython(python, cwd, env);
  const bundled = probe.runpod === null || sdkChoice === "bundled";
  const paths = [runtimeAsset("python", "site")];
  if (bundled) paths.push(runtimeAsset("python", "bundled"));
  if (env.PYTHONPATH) paths.push(env.PYTHONPATH);
  const sdk = !bundled
    ? `runpod ${probe.runpod} (your environment; like the platform, it takes the next job 1 s after a result: sdk "bundled" takes it at once)`
    : probe.runpod === null
      ? `bundled runpod module (runpod not installed in ${python})`
      : `bundled runpod module (sdk "bundled", ahead of your runpod ${probe.runpod})`;
  const pythonPath = { PYTHONPATH: paths.join(delimiter) };
  if (debugpy) await requireDebugpy(probe.executable, cwd, { ...env, ...pythonPath });
  const listen = debugpy && ["-m", "debugpy", "--listen", `127.0.0.1:${debugpy.port}`, ...(debugpy.wait ? ["--wait-for-client"] : [])];
  return processRuntime("python", `python ${probe.version} (${probe.executable}), ${sdk}`, {
    file: probe.executable,
    args: ["-u", handlerPath],
    env: pythonPath,
    debug: listen && { port: new DebugPort(debugpy), args: ["-u", ...listen, handlerPath] },
  });
}

/** A user error unless the interpreter can import debugpy with the workers' path. */
async function requireDebugpy(python: string, cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { exitCode } = await execa(python, ["-c", "import debugpy"], { cwd, env, extendEnv: false, timeout: 30_000, reject: false });
  if (exitCode !== 0) {
    throw userError("ERR_DEBUGPY_NOT_FOUND", `--debugpy: ${python} cannot import debugpy; install it there (${python} -m pip install debugpy), or leave --debugpy out`);
  }
}
