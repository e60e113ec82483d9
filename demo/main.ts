import type { AddressInfo } from "node:net";
import { createDemoApp } from "./app";
import { ensureComponentBundle } from "./client-bundle";
import type { StorageDriver } from "async-uploads/server";
import { ConfigError, type StorageConfig } from "./config";
import { createDemoServer } from "./http-server";
import { describeStorage } from "./storage";
import { openDemoRuntime } from "./uploads-config";

/** `npm start`: the demo documents app on http://localhost:3000 (PORT to change). */
async function main(): Promise<void> {
  const runtime = await openDemoRuntime();
  try {
    await checkStorage(runtime.storage, runtime.config.storage.backend);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const componentScript = await ensureComponentBundle();
  // scanSeconds: the attachment's stand-in virus scan (demo/scan-step.ts), run as jobs in this process.
  const { app, uploads } = createDemoApp({ db: runtime.connection.db, storage: runtime.storage, secret: runtime.secret, componentScript, scanSeconds: 1.5 });
  await uploads.start();

  const server = createDemoServer(app.fetch);
  server.listen(runtime.config.port, () => {
    console.log(`async-uploads demo: http://localhost:${(server.address() as AddressInfo).port}/`);
    console.log(`  database: ${runtime.config.databaseUrl ? "PostgreSQL (DATABASE_URL)" : `PGlite in ${runtime.config.dataDir}/pglite`}`);
    console.log(`  storage:  ${describeStorage(runtime.config.storage)}`);
  });
  server.on("error", (error: NodeJS.ErrnoException) => {
    const message = error.code === "EADDRINUSE" ? `PORT ${runtime.config.port} is already in use; set PORT to another port` : error.message;
    console.error(`Cannot start the demo: ${message}`);
    void runtime.close().finally(() => process.exit(1));
  });

  const shutdown = () => {
    // Open event streams would hold server.close() back: the uploads close them (and the job worker) first.
    void uploads.close().finally(() => server.close(() => {
      runtime.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

/**
 * One request to the storage before listening, so a wrong bucket, container, endpoint or key stops
 * start-up with a clear line instead of failing the first upload.
 */
async function checkStorage(storage: StorageDriver, backend: StorageConfig["backend"]): Promise<void> {
  try {
    await storage.stat("async-uploads-startup-check");
  } catch (error) {
    const settings =
      backend === "s3"
        ? "S3_BUCKET, S3_REGION, S3_ENDPOINT and the AWS credentials"
        : backend === "azure"
          ? "AZURE_STORAGE_CONNECTION_STRING and AZURE_CONTAINER"
          : "DATA_DIR";
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`STORAGE_BACKEND=${backend}: storage is not reachable, check ${settings} (${reason.replace(/\s+/g, " ").slice(0, 300)})`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`Cannot start the demo: ${error.message}`);
  } else {
    console.error("Cannot start the demo:", error);
  }
  process.exit(1);
});
