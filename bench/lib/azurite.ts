import { BlobServiceClient } from "@azure/storage-blob";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort } from "../../test/helpers/emulators";
import { onInterrupt } from "./cleanup";

const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface BenchAzurite {
  connectionString: string;
  blobEndpoint: string;
  container: string;
  stop(): Promise<void>;
}

/**
 * Azurite's blob service in a child process, in memory with a 4 GiB cap. The tests' `startAzurite`
 * caps memory at 512 MB, which the commit bench's 100 MiB objects exceed before Azurite's garbage
 * collector frees deleted blobs. (Azurite's disk mode has no cap but deletes blobs at under 100 a
 * second once it holds 10,000 of them, which would measure Azurite's metadata store, not cleanup.)
 */
export async function startBenchAzurite(container = "bench"): Promise<BenchAzurite> {
  const port = await freePort();
  const workspace = await mkdtemp(join(tmpdir(), "bench-azurite-"));
  const main = join(dirname(createRequire(import.meta.url).resolve("azurite/package.json")), "dist/src/blob/main.js");
  const child = spawn(
    process.execPath,
    [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--inMemoryPersistence", "--extentMemoryLimit", "4096", "--silent", "--loose", "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry"],
    { cwd: workspace, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  let forget = () => {};
  const stop = async () => {
    process.off("exit", killOnExit);
    forget();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(workspace, { recursive: true, force: true });
  };
  forget = onInterrupt(stop);
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`;
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Azurite exited: ${stderr}`);
      const up = await fetch(`${blobEndpoint}?comp=list`, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`Azurite did not answer: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container).createIfNotExists();
  } catch (error) {
    await stop();
    throw error;
  }
  return { connectionString, blobEndpoint, container, stop };
}
