import { defineConfig } from "vitest/config";

// `npm run test:reliability`: fuzzing, kill loops, full disk and hostile connections against real
// emulator processes; a few minutes. The normal suite leaves these files out.
export default defineConfig({
  test: {
    include: ["test/reliability/**/*.test.ts"],
    globalSetup: ["test/reliability/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 30_000,
    maxWorkers: 2,
  },
});
