import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import type { ApiEnv } from "../api-env.js";

/** The page's own files, shipped as they are (no build step): HTML, CSS and browser ES modules. */
const ASSETS_DIR = fileURLToPath(new URL("../../../src/api/console/assets/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** Everything the page loads comes from the emulator itself; the feed is a WebSocket to the same host. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
}

/**
 * The console's page at `/` and its files under `/console/`: its own modules and the chart library
 * (uPlot, from the installed package), read once at start-up — a dozen small files, so no static-file
 * middleware reading the disk per request. No key is needed for these: the page asks for it and sends it
 * with its API calls.
 */
export function consoleAssets(app: Hono<ApiEnv>): void {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(ASSETS_DIR)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`/console/${name}`, { body: readFileSync(join(ASSETS_DIR, name)), type });
  }
  const require = createRequire(import.meta.url);
  assets.set("/console/vendor/uplot.js", { body: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js")), type: TYPES[".js"] as string });
  assets.set("/console/vendor/uplot.css", { body: readFileSync(require.resolve("uplot/dist/uPlot.min.css")), type: TYPES[".css"] as string });
  const page = assets.get("/console/index.html") as Asset;
  const send = (asset: Asset) =>
    new Response(new Uint8Array(asset.body), {
      headers: {
        "Content-Type": asset.type,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Referrer-Policy": "no-referrer",
      },
    });
  app.get("/", () => send(page));
  // A wildcard, not a `{.+}` parameter: Hono's RegExpRouter refuses that pattern, and one such route
  // makes the app fall back to its slower trie router for every request.
  app.get("/console/*", (c, next) => {
    const asset = assets.get(c.req.path);
    return asset ? send(asset) : next();
  });
}
