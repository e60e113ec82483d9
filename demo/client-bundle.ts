import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Where `client/build.ts` writes the component bundle. */
export const COMPONENT_BUNDLE = join(ROOT, "dist/browser/async-file-input.js");
/** The bundle is made from these folders (the component imports `shared/`). */
const SOURCES = [join(ROOT, "client"), join(ROOT, "shared")];

/**
 * Builds the `<async-file-input>` bundle when it is missing or older than any source file, so that
 * `npm start` on a fresh clone (or after a pull) always serves the current component.
 * Returns the bundle's path.
 */
export async function ensureComponentBundle(): Promise<string> {
  // The download centre's bundle is built with it; either one missing or old rebuilds both.
  const times = await Promise.all([mtimeOf(COMPONENT_BUNDLE), mtimeOf(join(ROOT, "dist/browser/async-download-centre.js"))]);
  const built = times.includes(null) ? null : Math.min(...(times as number[]));
  const newestSource = Math.max(0, ...(await Promise.all(SOURCES.map(newestMtime))));
  if (built === null || built < newestSource) {
    const { buildClient } = await import("../client/build");
    await buildClient();
    if ((await mtimeOf(COMPONENT_BUNDLE)) === null) throw new Error(`[demo] buildClient() did not write ${COMPONENT_BUNDLE}`);
  }
  return COMPONENT_BUNDLE;
}

async function mtimeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function newestMtime(directory: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.(ts|js|css)$/.test(entry.name)) continue;
    newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}
