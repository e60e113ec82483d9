import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real services (PostgreSQL, Azurite, s3rver, Chromium) make some tests take a few seconds.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
