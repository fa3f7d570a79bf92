import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A real browser's tests run on their own: vitest.browser.config.ts.
    exclude: ["test/browser/**", "node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts real worker processes; two cores run two files at a time.
    maxWorkers: 2,
  },
});
