import { safeFilename } from "../shared/filename.js";

/** Default prefix under which uploads wait for their form to be saved. */
export const DEFAULT_TEMP_PREFIX = "async-temp/";

/**
 * The temp key of a new upload: `{tempPrefix}{yyyy}/{mm}/{dd}/{uuid}/{safe-name}`. Made by the server
 * only; the date keeps listings by day cheap and the uuid makes every key unique.
 */
export function makeTempKey(tempPrefix: string, id: string, filename: string, now: Date): string {
  const yyyy = now.getUTCFullYear();
  const mm = String(now.getUTCMonth() + 1).padStart(2, "0");
  const dd = String(now.getUTCDate()).padStart(2, "0");
  return `${normalizePrefix(tempPrefix)}${yyyy}/${mm}/${dd}/${id}/${safeFilename(filename)}`;
}

/** `"async-temp"` and `"async-temp/"` mean the same prefix. */
export function normalizePrefix(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/** The file name part of a key (the sanitised name for temp keys). */
export function basenameOfKey(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

/** Why a key made by an app's `uploadTo` cannot be stored, or null when it is fine. */
export function finalKeyProblem(key: string, tempPrefix: string): string | null {
  if (typeof key !== "string" || key === "" || key.length > 1024) return "must be a non-empty string of at most 1024 characters";
  if (key.startsWith("/") || key.includes("\\") || key.includes("\0")) return "must be a relative key without backslashes or NUL";
  if (key.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    return "must not contain empty, . or .. segments";
  }
  if (key.startsWith(normalizePrefix(tempPrefix))) return `must not be under the temp prefix ${tempPrefix}`;
  return null;
}
