import type { ChildProcess } from "node:child_process";

/**
 * Stops a child process: SIGTERM, then SIGKILL if it has not exited within `graceMs` (time for an
 * emulator to write a persisted store, or a server to close its connections). Resolves once it exited.
 */
export async function killAndWait(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
