/**
 * Work to undo if a bench script is stopped from outside (Ctrl-C, or run-all's time limit): temp
 * directories, emulators, the bench schema. Each script's `finally` does the same on a normal end;
 * this covers SIGINT and SIGTERM, which would otherwise exit without running it.
 */
const tasks = new Set<() => Promise<unknown>>();
let listening = false;

/**
 * Runs `task` if the process is interrupted before the returned function is called. The signal
 * handlers are installed by the first call only, so that importing this module (child servers do,
 * through lib/child.ts) never changes how a process reacts to SIGTERM.
 */
export function onInterrupt(task: () => Promise<unknown>): () => void {
  tasks.add(task);
  if (!listening) {
    listening = true;
    process.once("SIGINT", interrupt);
    process.once("SIGTERM", interrupt);
  }
  return () => tasks.delete(task);
}

let interrupted = false;
function interrupt(signal: NodeJS.Signals): void {
  if (interrupted) return;
  interrupted = true;
  const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
  const all = Promise.allSettled([...tasks].reverse().map((task) => task()));
  void Promise.race([all, deadline]).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
}

/** A fresh temp directory, removed if the run is interrupted (the script's `finally` removes it otherwise). */
export async function scratchDir(prefix: string): Promise<string> {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onInterrupt(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
