import { defineConfig } from "vitest/config";

// Tests that drive a real browser (Debian's chromium through playwright-core): `npm run test:browser`.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.browser.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
