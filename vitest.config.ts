import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A real browser's tests run on their own (vitest.browser.config.ts), the reliability suite too
    // (vitest.reliability.config.ts).
    exclude: ["test/browser/**", "test/reliability/**", "node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts real worker processes; two cores run two files at a time.
    maxWorkers: 2,
  },
});
