// Packs the package once per vitest run for the consumer tests (test/consumer/*.test.ts), which install
// the tarball into fresh projects; they read its path with `inject("asyncUploadsTarball")`.
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { runChecked } from "./commands";

declare module "vitest" {
  export interface ProvidedContext {
    /** The `npm pack` tarball of this working tree; absent when no consumer test was selected. */
    asyncUploadsTarball?: string;
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Not part of the sources: built or local state at the top, installed packages anywhere (.ci/node/*). */
const NOT_COPIED = new Set([".git", "dist", ".data", "coverage"]);
const isSource = (segments: string[]) => !NOT_COPIED.has(segments[0] ?? "") && !segments.includes("node_modules");

/**
 * `ASYNC_UPLOADS_TARBALL=<path>` tests that tarball instead (one packed earlier, or a released one).
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!(await consumerTestsSelected(project))) return undefined;
  const given = process.env.ASYNC_UPLOADS_TARBALL;
  if (given) {
    project.provide("asyncUploadsTarball", resolve(given));
    return undefined;
  }
  const started = Date.now();
  const workDir = await mkdtemp(join(tmpdir(), "async-uploads-pack-"));
  const removeWorkDir = () => rm(workDir, { recursive: true, force: true });
  const tarball = await pack(workDir).catch(async (error: unknown) => {
    await removeWorkDir();
    throw error;
  });
  const { size } = await stat(tarball);
  console.log(`[consumer tests] npm pack: ${tarball} (${(size / 1000).toFixed(1)} kB, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  project.provide("asyncUploadsTarball", tarball);
  return removeWorkDir;
}

/**
 * `npm pack` in a copy of the sources: its `prepack` build empties and rewrites dist/, which other
 * test files (the demo's pages serve dist/browser) read while this runs. The copy shares our
 * node_modules, so the build uses the locked tools.
 */
async function pack(workDir: string): Promise<string> {
  const source = join(workDir, "source");
  const destination = join(workDir, "tarball");
  await cp(ROOT, source, { recursive: true, filter: (path) => isSource(path.slice(ROOT.length).split(sep)) });
  await symlink(join(ROOT, "node_modules"), join(source, "node_modules"), "dir");
  await mkdir(destination);
  await runChecked("npm", ["pack", "--pack-destination", destination], { cwd: source, timeoutMs: 180_000 });
  const [file, ...others] = (await readdir(destination)).filter((name) => name.endsWith(".tgz"));
  if (!file || others.length > 0) throw new Error(`npm pack left ${file ? "several tarballs" : "no tarball"} in ${destination}`);
  return join(destination, file);
}

/**
 * Whether this run includes a consumer test (so `vitest run test/server` does not pay for a pack).
 * The CLI's file filters are not public API; when they cannot be read, assume the whole suite runs.
 */
async function consumerTestsSelected(project: TestProject): Promise<boolean> {
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  if (!filters) return true;
  const { testFiles } = await project.globTestFiles(filters);
  return testFiles.some((file) => file.includes(`${sep}test${sep}consumer${sep}`));
}
