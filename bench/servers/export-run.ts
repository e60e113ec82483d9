/**
 * One export of BENCH_ROWS CSV rows, built by this process's worker into BENCH_BACKEND's storage
 * (filesystem, s3, azure), or (`plain`) the same bytes written with a plain file stream. Prints one
 * JSON line: { ms, bytes, vmHwm }. A process of its own, so its peak RSS (VmHWM) is the worker's alone.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { eq } from "drizzle-orm";
import { createAsyncUploads } from "../../server/create-async-uploads";
import { asyncExport } from "../../server/db/export-schema";
import { azureStorage } from "../../server/storage/azure";
import { filesystemStorage } from "../../server/storage/filesystem";
import { s3Storage } from "../../server/storage/s3";
import type { StorageDriver } from "../../server/storage/types";
import { BENCH_SECRET } from "../lib/constants";
import { connectToSchema } from "../lib/database";
import { readVmHwm } from "../lib/child";

const env = process.env;
const rows = Number(env.BENCH_ROWS ?? 1_000_000);
const backend = env.BENCH_BACKEND ?? "filesystem";
const ROWS_PER_WRITE = 1000;

/** Row `i` of the export: what a documents table would give. */
function csvRows(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `${i},document-${i}.pdf,application/pdf,${(i * 7919) % 10_000_000},2026-01-${String((i % 28) + 1).padStart(2, "0")}T12:00:00Z\n`;
  return text;
}

async function plain(): Promise<{ ms: number; bytes: number }> {
  const path = join(env.BENCH_FS_ROOT!, `plain-${process.pid}.csv`);
  startSampling();
  const started = performance.now();
  const out = createWriteStream(path, { flush: true });
  let bytes = 0;
  for (let i = 0; i < rows; i += ROWS_PER_WRITE) {
    const chunk = csvRows(i, Math.min(rows, i + ROWS_PER_WRITE));
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await once(out, "close");
  return { ms: performance.now() - started, bytes };
}

function storageOf(): StorageDriver {
  if (backend === "filesystem") return filesystemStorage({ root: env.BENCH_FS_ROOT! });
  if (backend === "azure") return azureStorage({ connectionString: env.BENCH_AZURE!, container: env.BENCH_AZURE_CONTAINER! });
  const s3 = JSON.parse(env.BENCH_S3!) as { endpoint: string; region: string; bucket: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  const client = new S3Client({ ...s3, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
  return s3Storage({ bucket: s3.bucket, client });
}

async function exported(): Promise<{ ms: number; bytes: number }> {
  const connection = await connectToSchema(env.BENCH_DB_URL!, env.BENCH_DB_SCHEMA!);
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: BENCH_SECRET,
    storage: storageOf(),
    getPrincipal: () => null,
    processing: { schema: `${env.BENCH_DB_SCHEMA}_boss_${backend}`, pollingIntervalSeconds: 0.5 },
  });
  uploads.exports.register("rows.csv", {
    criteria: (input) => input as { rows: number },
    filename: () => "rows.csv",
    contentType: "text/csv",
    delay: () => true,
    timeoutSeconds: 600,
    write: async ({ criteria, output, progress }) => {
      for (let i = 0; i < criteria.rows; i += ROWS_PER_WRITE) {
        await output.write(csvRows(i, Math.min(criteria.rows, i + ROWS_PER_WRITE)));
        progress(i, criteria.rows);
      }
    },
  });
  await uploads.start();
  try {
    startSampling();
    const started = performance.now();
    const result = await uploads.exports.request({ exportId: "rows.csv", criteria: { rows }, principal: `bench-${backend}` });
    if (!("queued" in result)) throw new Error("the export was not queued");
    for (;;) {
      const [row] = await connection.db.select().from(asyncExport).where(eq(asyncExport.id, result.queued.id));
      if (row?.status === "succeeded") return { ms: performance.now() - started, bytes: row.size ?? 0 };
      if (row && row.status !== "queued" && row.status !== "running") throw new Error(`the export ended ${row.status}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await uploads.close();
    await connection.close();
  }
}

/** RSS sampled every 10 ms while the export runs: the worker's own figure (VmHWM also holds start-up's, tsx's transpiling). */
const samples = { before: 0, peak: 0 };
let sampler: NodeJS.Timeout | undefined;
export function startSampling(): void {
  samples.before = process.memoryUsage.rss();
  samples.peak = samples.before;
  sampler = setInterval(() => (samples.peak = Math.max(samples.peak, process.memoryUsage.rss())), 10);
}

const result = backend === "plain" ? await plain() : await exported();
clearInterval(sampler);
process.stdout.write(`${JSON.stringify({ ...result, vmHwm: readVmHwm(process.pid), rssBefore: samples.before, rssPeak: samples.peak })}\n`);
process.exit(0);
