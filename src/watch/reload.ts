import type { Stats } from "node:fs";
import { basename, sep } from "node:path";
import { watch } from "chokidar";
import type { Clock } from "../core/clock.js";
import type { EventBus } from "../core/events.js";
import type { Pool } from "../workers/pool.js";
import { HandlerVersion, IGNORED_DIRS, isIgnoredFile } from "./handler-version.js";

export interface ReloadOptions {
  root: string;
  version: HandlerVersion;
  pool: Pool;
  endpoint: { id: string; clock: Clock };
  bus: EventBus;
  /** One save, or a `git checkout` of many files, becomes one reload. */
  debounceMs: number;
}

/**
 * Watches the handler's folder and rolls the pool on a change, like a hosted rolling release: idle
 * workers are replaced at once, busy ones finish their job first. A reload never re-imports code in
 * place: new code always runs in a new process. Returns the function that stops watching.
 */
export async function watchForReload(options: ReloadOptions): Promise<() => Promise<void>> {
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(options.root, {
    ignoreInitial: true,
    // Without stats (a first look), a path is kept until chokidar knows whether it is a folder.
    ignored: (path: string, stats?: Stats) => {
      if (path.split(sep).some((part) => IGNORED_DIRS.has(part)) || options.version.isExcluded(path)) return true;
      if (stats?.isDirectory()) return basename(path).startsWith(".") && path !== options.root;
      return stats?.isFile() === true && isIgnoredFile(basename(path));
    },
  });
  let rolledOut = options.version.current;
  // The version follows the files at once, so no job is handed to a worker on superseded code; the roll
  // itself waits for the burst of changes to settle.
  const noted = (path: string) => {
    changed.add(path);
    options.version.update([path]);
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), options.debounceMs);
  };
  const reload = async () => {
    const started = Date.now();
    const files = changed.size;
    // Read once more now that the burst settled: an event may have caught a file half-written.
    options.version.update(changed);
    changed.clear();
    if (options.version.current === rolledOut) return;
    rolledOut = options.version.current;
    const replaced = await options.pool.replaceOutdated();
    options.bus.emit({
      type: "reload", endpointId: options.endpoint.id, time: options.endpoint.clock.now(),
      filesChanged: files, workersReplaced: replaced, ms: Date.now() - started,
    });
  };
  watcher.on("add", noted).on("change", noted).on("unlink", noted);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return async () => {
    clearTimeout(timer);
    await watcher.close();
  };
}
