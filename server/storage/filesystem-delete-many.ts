import { rmdir, unlink } from "node:fs/promises";
import { dirname, sep } from "node:path";
import { driverError } from "./driver-error.js";
import { isCode } from "./filesystem-error.js";
import type { DeleteManyFailure } from "./types.js";

/** Files unlinked (and directories removed) at a time: as many as cleanup's own storage calls. */
const CONCURRENCY = 8;

/**
 * The filesystem driver's `deleteMany`: unlinks each key's file (a file already gone counts as
 * deleted) and removes the directories the batch emptied, each about once. `delete` called per key
 * walks up from every file and tries each parent again, so keys sharing a directory
 * (`async-temp/<date>/`) cost one failed `rmdir` of it per key. Here each key's own directory is
 * removed right after its file (upload keys have one of their own), and what lies above it is tried
 * once at the end, deepest first.
 *
 * A key `pathOf` refuses, or whose unlink fails, is reported with its reason and the others go on.
 * Removing directories is best effort, as in `delete`: one still holding a file (or recreated by a
 * concurrent write) stays.
 */
export async function filesystemDeleteMany(
  root: string,
  pathOf: (key: string) => string,
  keys: readonly string[],
): Promise<DeleteManyFailure[]> {
  const failures: DeleteManyFailure[] = [];
  const inside = (dir: string) => dir.startsWith(root + sep);
  // Directories to try at the end: those above a directory a key removed.
  const later = new Set<string>();
  // Each key's unlink and rmdir in turn, 8 keys at a time: no key waits for the whole batch's unlinks.
  await eachBounded(keys, async (key) => {
    let path: string;
    try {
      path = pathOf(key);
    } catch (error) {
      failures.push({ key, reason: error instanceof Error ? error.message : String(error) });
      return;
    }
    try {
      // https://nodejs.org/api/fs.html#fspromisesunlinkpath
      await unlink(path);
    } catch (error) {
      if (!isCode(error, "ENOENT") && !isCode(error, "ENOTDIR")) {
        failures.push({ key, reason: driverError("filesystem", "deleteMany", error, JSON.stringify(key)).message });
      }
    }
    // Even after a failure: the directory may be empty (a file gone earlier), as `delete` assumes too.
    const dir = dirname(path);
    if (!inside(dir)) return;
    // Of keys sharing a directory, the one whose unlink finished last finds it empty: no retry needed.
    if ((await rmdir(dir).then(() => true, () => false)) && inside(dirname(dir))) later.add(dirname(dir));
  });
  await pruneOnce(root, later);
  return failures;
}

/** Removes the empty directories among `dirs` and then their parents, up to (not including) `root`, each tried once. */
async function pruneOnce(root: string, dirs: Set<string>): Promise<void> {
  const inside = (dir: string) => dir.startsWith(root + sep);
  let level = [...dirs].filter(inside);
  const tried = new Set(level);
  while (level.length > 0) {
    // Deepest first, so that a directory is tried only after every directory below it in this batch.
    const depth = Math.max(...level.map(depthOf));
    const now = level.filter((dir) => depthOf(dir) === depth);
    const later = level.filter((dir) => depthOf(dir) !== depth);
    const removed: string[] = [];
    // ENOTEMPTY (or any failure) leaves the directory and ends the walk there.
    await eachBounded(now, (dir) => rmdir(dir).then(() => void removed.push(dir), () => {}));
    for (const dir of removed) {
      const parent = dirname(dir);
      if (inside(parent) && !tried.has(parent)) {
        tried.add(parent);
        later.push(parent);
      }
    }
    level = later;
  }
}

function depthOf(dir: string): number {
  return dir.split(sep).length;
}

/** Runs `fn` over `items`, `CONCURRENCY` at a time. */
async function eachBounded<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}
