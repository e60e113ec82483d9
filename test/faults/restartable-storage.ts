import { spawn, type ChildProcess } from "node:child_process";
import { Agent } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { azureStorage } from "../../server/storage/azure";
import { s3Storage } from "../../server/storage/s3";
import { freePort } from "../helpers/emulators";
import type { SecurityBackend } from "../security/harness";

/**
 * s3rver and Azurite that can really be stopped and started again on the same port with the same
 * data on disk, so that a test can take the storage service down in the middle of a flow, bring it
 * back and check what survived. The drivers' clients try once (twice for a stale kept-alive socket)
 * so that an outage fails fast instead of after the SDK's back-off.
 */
export interface RestartableBackend extends SecurityBackend {
  name: "s3" | "azure";
  /** Base URL the service answers on (the same after a restart). */
  endpoint: string;
  /** Stops the service for real: s3rver closes its server and every connection, Azurite gets SIGTERM. */
  stop(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

const require = createRequire(import.meta.url);

interface S3rverServer {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;

export async function startRestartableS3rver(bucket = "faults"): Promise<RestartableBackend> {
  const S3rver = require("s3rver") as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), "s3rver-faults-"));
  let port = 0;
  let server: S3rverServer | null = null;
  const stop = async () => {
    const current = server;
    server = null;
    current?.httpServer?.closeAllConnections();
    await current?.close();
  };
  const start = async () => {
    const next = new S3rver({ address: "127.0.0.1", port, silent: true, directory, vhostBuckets: false, configureBuckets: [{ name: bucket, configs: [] }] });
    ({ port } = await next.run());
    server = next;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    maxAttempts: 2,
    requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    name: "s3",
    endpoint,
    storage: s3Storage({ bucket, client, uploadMethod: "PUT" }),
    get running() {
      return server !== null;
    },
    start,
    stop,
    async listKeys() {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      return (listed.Contents ?? []).map((object) => object.Key!).sort();
    },
    async putDirect(key, bytes, contentType) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: contentType }));
    },
    async close() {
      await stop();
      client.destroy();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** Azurite persisting to a directory, so that a SIGTERM and a new process keep the blobs. */
export async function startRestartableAzurite(containerName = "faults"): Promise<RestartableBackend> {
  const location = await mkdtemp(join(tmpdir(), "azurite-faults-"));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let child: ChildProcess | null = null;
  const killOnExit = () => child?.kill("SIGKILL");
  process.on("exit", killOnExit);

  const start = async () => {
    const main = join(dirname(require.resolve("azurite/package.json")), "dist/src/blob/main.js");
    const args = [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", location, "--silent", "--loose", "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry"];
    const next = spawn(process.execPath, args, { cwd: location, stdio: ["ignore", "ignore", "pipe"] });
    next.stderr?.resume();
    child = next;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (next.exitCode !== null) throw new Error(`Azurite exited with ${next.exitCode}`);
      const answered = await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
      if (answered) return;
      if (Date.now() > deadline) throw new Error("Azurite did not start");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async () => {
    const current = child;
    child = null;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once("exit", () => resolve()));
    current.kill("SIGTERM");
    const timer = setTimeout(() => current.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  const service = new BlobServiceClient(endpoint, credential, {
    retryOptions: { maxTries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 50 },
    keepAliveOptions: { enable: false },
  });
  const container = service.getContainerClient(containerName);
  await container.createIfNotExists();
  return {
    name: "azure",
    endpoint,
    container,
    storage: azureStorage({ containerClient: container, credential }),
    get running() {
      return child !== null;
    },
    start,
    stop,
    async listKeys() {
      const keys: string[] = [];
      for await (const blob of container.listBlobsFlat()) keys.push(blob.name);
      return keys.sort();
    },
    async putDirect(key, bytes, contentType) {
      await container.getBlockBlobClient(key).uploadData(bytes, contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {});
    },
    async close() {
      await stop();
      process.off("exit", killOnExit);
      await rm(location, { recursive: true, force: true });
    },
  };
}

export function startRestartable(name: "s3" | "azure"): Promise<RestartableBackend> {
  return name === "s3" ? startRestartableS3rver() : startRestartableAzurite();
}
