import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The installed version of a package (from its package.json under node_modules), or "?" */
export function installedVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/** `name@version` for a list of packages, for the method lines of a section. */
export function versions(...names: string[]): string {
  return names.map((name) => `${name}@${installedVersion(name)}`).join(", ");
}
