// Starts one Ceph RADOS Gateway per vitest run (test/helpers/rgw.ts; ~12–17 s), when a selected test file
// may use S3; test files reach it with `inject("rgw")`, through startBackend("s3") (test/helpers/backends.ts),
// each in a bucket of its own.
import { readFile } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startRgw, type RgwEndpoint } from "./rgw";

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's RGW (endpoint and its user's keys); absent when no selected test file may use S3. */
    rgw?: RgwEndpoint;
  }
}

/**
 * A test file may use S3 if it names the backend (`"s3"`, `"s3-put"`, in any quotes) or loops over every
 * backend (`BACKENDS`). Cheap, and wrong only towards starting RGW; a file that needs it and is missed
 * fails at once in startBackend with a message saying so.
 */
const MAY_USE_S3 = /["'`]s3(-put)?["'`]|\bBACKENDS\b/;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!(await s3TestsSelected(project))) return undefined;
  const started = Date.now();
  const rgw = await startRgw();
  console.log(`[rgw] Ceph RADOS Gateway at ${rgw.endpoint} (${((Date.now() - started) / 1000).toFixed(1)} s to start)`);
  project.provide("rgw", { endpoint: rgw.endpoint, region: rgw.region, credentials: rgw.credentials });
  return rgw.stop;
}

/**
 * Whether a selected test file may use S3 (so `vitest run test/shared` does not pay for a cluster). The
 * CLI's file filters are not public API; when they cannot be read, assume the whole suite runs.
 */
async function s3TestsSelected(project: TestProject): Promise<boolean> {
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  if (!filters) return true;
  const { testFiles } = await project.globTestFiles(filters);
  for (const file of testFiles) if (MAY_USE_S3.test(await readFile(file, "utf8"))) return true;
  return false;
}
