import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** Every file below `dir` (absolute paths); a missing directory has none. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}
