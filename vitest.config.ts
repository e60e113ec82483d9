import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // The package's own names, pointed at the sources (as tsconfig.json's "paths").
    alias: [
      { find: /^async-uploads\/server$/, replacement: source("./server/index.ts") },
      { find: /^async-uploads\/s3$/, replacement: source("./server/s3.ts") },
      { find: /^async-uploads\/azure$/, replacement: source("./server/azure.ts") },
      { find: /^async-uploads\/filesystem$/, replacement: source("./server/filesystem.ts") },
      { find: /^async-uploads\/client$/, replacement: source("./client/index.ts") },
      { find: /^async-uploads\/shared$/, replacement: source("./shared/index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Real services (PostgreSQL, Azurite, Ceph RGW, Chromium) make some tests take a few seconds.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most files wait on a browser, an emulator, a child process or npm rather than on the CPU; vitest's
    // default (one worker fewer than the cores) ran them one at a time on a 2-core machine (11 min).
    maxWorkers: 2,
    // Packs the package once for the consumer tests (test/consumer/global-setup.ts), and starts one Ceph
    // RADOS Gateway, the S3 of the tests (test/helpers/rgw-global-setup.ts), each when a selected file
    // needs it; test/global-setup.ts runs the two side by side.
    globalSetup: ["test/global-setup.ts"],
  },
});
