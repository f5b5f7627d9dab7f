import { defineConfig } from "vitest/config";

export default defineConfig({
  cacheDir: "var/cache/vite",
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    env: { XDG_CACHE_HOME: "var/cache", XDG_DATA_HOME: "var/data" },
  },
});
