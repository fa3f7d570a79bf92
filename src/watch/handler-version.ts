import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Folders and files a reload never looks at (SPEC §3.6). */
export const IGNORED_DIRS = new Set(["node_modules", ".venv", "venv", "__pycache__", ".git", ".runpod-emulator", ".pytest_cache", ".mypy_cache"]);

/**
 * Only code and configuration count: a handler that writes its outputs, logs or downloads next to itself
 * must not reload itself in a loop. Editor droppings (swap and backup files) never count.
 */
const CODE = /\.(py|pyi|js|mjs|cjs|jsx|ts|mts|cts|tsx|json|ya?ml|toml|cfg|ini|env)$|^\.env(\..+)?$|^requirements.*\.txt$/;

/** Whether a file name is outside what a reload watches. */
export function isIgnoredFile(name: string): boolean {
  return !CODE.test(name) || name.startsWith(".#");
}

/** Files above this size (model weights, data) are identified by size and mtime instead of content. */
const CONTENT_LIMIT = 1_000_000;

/**
 * The handler's version: a hash over every watched file's path and content. Kept file by file, so a
 * reload re-reads only what changed.
 */
export class HandlerVersion {
  private readonly files = new Map<string, string>();
  private readonly excluded: readonly string[];
  /** The hash, until a file changes: it is asked for with every job taken. */
  private hash: string | undefined;

  /**
   * `excluded`: folders that are not code even inside the root (network volumes, which jobs write to); one
   * that holds the root itself excludes nothing.
   */
  constructor(
    private readonly root: string,
    excluded: readonly string[] = [],
  ) {
    this.excluded = excluded.filter((folder) => !isWithin(root, [folder]));
    this.scan(root);
  }

  /** Whether a path lies in an excluded folder: neither counted nor watched. */
  isExcluded(path: string): boolean {
    return isWithin(path, this.excluded);
  }

  /** Re-reads the given paths (a deleted file drops out). */
  update(paths: Iterable<string>): void {
    for (const path of paths) if (!this.isExcluded(path)) this.read(path);
  }

  /** The version string recorded with every job (12 hex digits). */
  get current(): string {
    if (this.hash === undefined) {
      const hash = createHash("sha256");
      for (const key of [...this.files.keys()].sort()) hash.update(`${key}\0${this.files.get(key)}\0`);
      this.hash = hash.digest("hex").slice(0, 12);
    }
    return this.hash;
  }

  private scan(dir: string): void {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!IGNORED_DIRS.has(entry.name) && !entry.name.startsWith(".") && !this.isExcluded(path)) this.scan(path);
      } else if (entry.isFile() && !isIgnoredFile(entry.name)) this.read(path);
    }
  }

  private read(path: string): void {
    this.hash = undefined;
    const key = relative(this.root, path).split(sep).join("/");
    try {
      const stat = statSync(path);
      if (!stat.isFile()) return void this.files.delete(key);
      this.files.set(key, stat.size > CONTENT_LIMIT ? `${stat.size}:${stat.mtimeMs}` : createHash("sha256").update(readFileSync(path)).digest("hex"));
    } catch {
      this.files.delete(key);
    }
  }
}

/** Whether `path` is one of `folders` or inside one. */
function isWithin(path: string, folders: readonly string[]): boolean {
  return folders.some((folder) => path === folder || path.startsWith(folder.endsWith(sep) ? folder : `${folder}${sep}`));
}
