import { randomUUID } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";

/** The lock file inside an embedded database's directory, naming the process that has it open. */
export const LOCK_FILE_NAME = "async-uploads.lock";

/** What the lock file holds: enough to tell a live owner from a dead one, and to name it in errors. */
interface LockOwner {
  pid: number;
  hostname: string;
  /** Tells this opening from an earlier one of the same pid (a container's pid 1 after a restart). */
  token: string;
  openedAt?: string;
}

/** The embedded database's directory is open in another process (or already in this one). */
export class DatabaseInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseInUseError";
  }
}

/** Directories this process holds, by resolved path; a second opener here is refused too. */
const heldHere = new Map<string, string>();

/**
 * Takes the lock of an embedded (PGlite) database directory, or throws `DatabaseInUseError` naming the
 * process that holds it. PGlite is one process's database and does not lock its directory itself: two
 * processes writing it overwrite each other's pages (rows a cleanup removed came back once the app
 * stopped, and one such run left a directory PGlite could no longer open).
 *
 * Like PostgreSQL's own `postmaster.pid`: a file created only if absent, holding the owner's pid; a
 * lock whose pid is no longer running on this host (the owner was killed) is taken over. A pid file
 * rather than a lock package such as proper-lockfile: PGlite's directory is on the local disk of one
 * host, where a pid is an exact answer, while mtime-refreshed locks need a timer and can call a busy
 * but live owner stale. Returns the function that releases the lock (also run at process exit).
 */
export function lockDatabaseDirectory(dataDir: string): () => void {
  const directory = resolve(dataDir);
  const path = join(directory, LOCK_FILE_NAME);
  if (heldHere.has(directory)) {
    throw new DatabaseInUseError(`[async-uploads] the embedded database in ${directory} is already open in this process; close it first`);
  }
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), token: randomUUID(), openedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusively(path, owner)) {
      heldHere.set(directory, owner.token);
      const release = () => releaseLock(directory, path, owner.token);
      process.once("exit", release);
      return () => {
        process.off("exit", release);
        release();
      };
    }
    const current = readOwner(path);
    if (current === "gone") continue;
    if (current !== "unreadable" && isAlive(current)) throw inUse(directory, current);
    removeStale(path, current);
  }
  throw new DatabaseInUseError(`[async-uploads] the embedded database in ${directory} is being opened by another process; try again`);
}

/** Creates the lock file with its content in one step (a hard link), so no reader ever sees it half written. */
function createExclusively(path: string, owner: LockOwner): boolean {
  const draft = `${path}.${owner.token}`;
  writeFileSync(draft, `${JSON.stringify(owner)}\n`, { flag: "wx", mode: 0o644 });
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkSync(draft);
  }
}

function readOwner(path: string): LockOwner | "gone" | "unreadable" {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isSafeInteger(parsed.pid) && typeof parsed.hostname === "string" && typeof parsed.token === "string") return parsed as LockOwner;
  } catch {
    // Not ours or damaged: since the file is only ever created whole, nobody is writing it.
  }
  return "unreadable";
}

/** Whether the owner may still be running. On another host (a shared disk) there is no way to tell: assume so. */
function isAlive(owner: LockOwner): boolean {
  if (owner.hostname !== hostname()) return true;
  // This pid is ours, but the lock is not one this process took: an earlier process with our pid.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes a dead owner's lock. It is first moved aside and checked, so that of two processes taking
 * over at once, one cannot delete the lock the other has just created: if what was moved is not the
 * stale lock, it is put back.
 */
function removeStale(path: string, stale: LockOwner | "unreadable"): void {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const moved = readOwner(aside);
  const same = stale === "unreadable" ? moved === "unreadable" : typeof moved === "object" && moved.token === stale.token;
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone else created a lock meanwhile; theirs stands.
    }
  }
  unlinkSync(aside);
}

function releaseLock(directory: string, path: string, token: string): void {
  if (heldHere.get(directory) !== token) return;
  heldHere.delete(directory);
  const current = readOwner(path);
  if (typeof current === "object" && current.token === token) unlinkSync(path);
}

function inUse(directory: string, owner: LockOwner): DatabaseInUseError {
  const where = owner.hostname === hostname() ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.hostname}`;
  return new DatabaseInUseError(
    `[async-uploads] the embedded database in ${directory} is in use by another process (${where}); ` +
      `stop it first, or use a PostgreSQL server (a url) to share the database between processes ` +
      `(if that process is gone, remove ${join(directory, LOCK_FILE_NAME)})`,
  );
}
