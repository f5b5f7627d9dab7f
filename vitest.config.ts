import { defineConfig } from "vitest/config";

export default defineConfig({
  cacheDir: "var/cache/vite",
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Generous: a deadline for a hung test, not a speed check. Tests wait for events (each wait has
    // its own deadline) and their work slows with the machine's load: starting the simulators'
    // PKI, a child plantbridge, an embedded PostgreSQL take several times longer on a busy 2-core
    // machine. A passing test returns as soon as its events have happened.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    env: { XDG_CACHE_HOME: "var/cache", XDG_DATA_HOME: "var/data" },
  },
});
