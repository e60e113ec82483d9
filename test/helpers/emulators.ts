import { BlobServiceClient } from "@azure/storage-blob";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { killAndWait } from "./kill-and-wait";
import { addMultipartCalls } from "./s3rver-multipart";

/**
 * Local S3 and Azure Blob emulators for tests, browser tests, the demo (`npm run emulators`) and
 * benchmarks. Each starts on a free 127.0.0.1 port with its bucket/container ready and CORS open to
 * every origin (browsers upload to them directly), and `stop()` leaves no process or file behind.
 */

const require = createRequire(import.meta.url);

export interface S3rverInstance {
  endpoint: string;
  region: string;
  bucket: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Takes the service down as an outage would (every connection closed), keeping its data. */
  pause(): Promise<void>;
  /** Brings a paused service back on the same port with the same data. */
  resume(): Promise<void>;
  readonly running: boolean;
  stop(): Promise<void>;
}

export interface AzuriteInstance {
  connectionString: string;
  /** `http://127.0.0.1:{port}/devstoreaccount1` */
  blobEndpoint: string;
  accountName: string;
  accountKey: string;
  container: string;
  /** Stops the process as an outage would; only a `persist`ed Azurite keeps its blobs. */
  pause(): Promise<void>;
  /** Starts Azurite again on the same port (and, with `persist`, the same data). */
  resume(): Promise<void>;
  readonly running: boolean;
  stop(): Promise<void>;
}

/** The subset of s3rver's (untyped, CommonJS) API used here. */
interface S3rverServer {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;

const S3_CORS = `<CORSConfiguration><CORSRule>
  <AllowedOrigin>*</AllowedOrigin>
  <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>
  <AllowedMethod>POST</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>
  <AllowedHeader>*</AllowedHeader>
  <ExposeHeader>ETag</ExposeHeader>
  <MaxAgeSeconds>3600</MaxAgeSeconds>
</CORSRule></CORSConfiguration>`;

/** s3rver in this process, storing into a fresh temporary directory that `stop()` removes. */
export async function startS3rver({ bucket = "async-uploads" }: { bucket?: string } = {}): Promise<S3rverInstance> {
  const S3rver = require("s3rver") as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  // s3rver listens itself and reports the port, so port 0 cannot race with another process; a
  // resumed server asks for the port it had.
  let port = 0;
  let server: S3rverServer | null = null;
  const resume = async () => {
    const next = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory,
      vhostBuckets: false,
      configureBuckets: [{ name: bucket, configs: [S3_CORS] }],
    });
    // ListParts and AbortMultipartUpload, which s3rver lacks and chunked uploads need.
    addMultipartCalls(next);
    ({ port } = await next.run());
    server = next;
  };
  const pause = async () => {
    const current = server;
    server = null;
    current?.httpServer?.closeAllConnections();
    await current?.close();
  };
  try {
    await resume();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    bucket,
    forcePathStyle: true,
    // s3rver's built-in account; it does not check SigV4 signatures.
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    pause,
    resume,
    get running() {
      return server !== null;
    },
    async stop() {
      await pause();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Azurite's well-known development account. */
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/**
 * Azurite's blob service as a child process; `stop()` kills it. In memory, or with `persist` in a
 * temporary directory, so that its blobs outlive a `pause()` (a test of a storage outage).
 */
export async function startAzurite({ container = "async-uploads", persist = false }: { container?: string; persist?: boolean } = {}): Promise<AzuriteInstance> {
  let lastError: unknown;
  // A free port can be taken by someone else between choosing and binding it; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const workspace = await mkdtemp(join(tmpdir(), "azurite-"));
    const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
    let child: ChildProcess | null = null;
    // Last resort if the process exits without calling stop().
    const killChild = () => child?.kill("SIGKILL");
    process.on("exit", killChild);
    const resume = async () => {
      child = spawnAzurite(port, workspace, persist);
      await waitUntilListening(child, blobEndpoint);
    };
    const pause = async () => {
      const current = child;
      child = null;
      if (current) await killAndWait(current);
    };
    const stop = async () => {
      await pause();
      process.off("exit", killChild);
      await rm(workspace, { recursive: true, force: true });
    };
    try {
      await resume();
      const connectionString =
        `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
        `BlobEndpoint=${blobEndpoint};`;
      const service = BlobServiceClient.fromConnectionString(connectionString);
      await service.setProperties({
        cors: [
          {
            allowedOrigins: "*",
            allowedMethods: "GET,PUT,OPTIONS,HEAD",
            allowedHeaders: "*",
            exposedHeaders: "*",
            maxAgeInSeconds: 3600,
          },
        ],
      });
      await service.getContainerClient(container).createIfNotExists();
      return {
        connectionString,
        blobEndpoint,
        accountName: AZURITE_ACCOUNT,
        accountKey: AZURITE_KEY,
        container,
        pause,
        resume,
        get running() {
          return child !== null;
        },
        stop,
      };
    } catch (error) {
      lastError = error;
      await stop();
    }
  }
  throw new Error("Azurite did not start", { cause: lastError });
}

function spawnAzurite(port: number, workspace: string, persist: boolean): ChildProcess {
  // The `azurite-blob` bin, run with this Node rather than through a shebang and PATH lookup.
  const packageDir = dirname(require.resolve("azurite/package.json"));
  const main = join(packageDir, "dist/src/blob/main.js");
  const args = [
    main,
    ...["--blobHost", "127.0.0.1", "--blobPort", String(port)],
    ...(persist ? ["--location", workspace] : ["--inMemoryPersistence", "--extentMemoryLimit", "512"]),
    ...["--silent", "--loose", "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry"],
  ];
  // In memory, nothing should be written; the cwd is a scratch directory in case anything is.
  return spawn(process.execPath, args, { cwd: workspace, stdio: ["ignore", "pipe", "pipe"] });
}

/** Resolves once Azurite answers HTTP; rejects if it exits first or takes longer than `timeoutMs`. */
async function waitUntilListening(child: ChildProcess, endpoint: string, timeoutMs = 15_000): Promise<void> {
  // Kept for the error message (bounded), and always read so that a full pipe never blocks Azurite.
  let output = "";
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Azurite exited (${child.exitCode ?? child.signalCode}): ${output.trim()}`);
    }
    try {
      // Any HTTP answer (an authorisation error included) means it is up.
      await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`Azurite did not answer within ${timeoutMs} ms: ${output.trim()}`);
}

/** A port that was free a moment ago: listen on port 0, read the port the OS chose, close. */
export async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not determine a free port");
  return address.port;
}
