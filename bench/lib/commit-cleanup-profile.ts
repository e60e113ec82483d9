import { subscribe } from "node:diagnostics_channel";
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * `COMMIT_CLEANUP_PROFILE=dir` (bench/commit-cleanup.ts): a CPU profile of each timed part (one commit,
 * one cleanup run), written to `dir`, and the storage requests (method and query parameters) the app
 * sent during it, printed. Off by default: the profiler slows what it watches.
 */
export function commitCleanupProfiler(dir: string | undefined) {
  if (!dir) return { measure: <T>(_label: string, work: () => Promise<T>) => work() };
  const requests = new Map<string, number>();
  let watching = false;
  // The first requests of a part, each with its start and end (ms since the part started): a timeline.
  const timeline: string[] = [];
  let startedAt = 0;
  const since = () => (performance.now() - startedAt).toFixed(1);
  subscribe("http.client.request.start", (message) => {
    if (!watching) return;
    const { request } = message as { request: { method: string; path: string } & NodeJS.EventEmitter };
    // Keys differ per row: keep the method and the query's parameter names only.
    const query = request.path.includes("?") ? `?${[...new URLSearchParams(request.path.split("?")[1]).keys()].join("&")}` : "";
    const label = `${request.method} ${query}`;
    requests.set(label, (requests.get(label) ?? 0) + 1);
    if (timeline.length < 12) {
      const start = since();
      request.once("response", (response: NodeJS.EventEmitter) =>
        response.once("end", () => timeline.push(`${label.trim()} ${start}→${since()}`)),
      );
    }
  });
  const session = new Session();
  session.connect();
  return {
    async measure<T>(label: string, work: () => Promise<T>): Promise<T> {
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      requests.clear();
      timeline.length = 0;
      startedAt = performance.now();
      watching = true;
      try {
        return await work();
      } finally {
        watching = false;
        // Before stopping the profiler, which takes a while: the part's own time.
        const took = since();
        const { profile } = await session.post("Profiler.stop");
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, `${label.replace(/[^\w.-]+/g, "_")}.cpuprofile`), JSON.stringify(profile));
        const calls = [...requests].map(([request, count]) => `${count}× ${request}`).join(", ");
        // The wall-clock start lines a part up with a trace of other processes (strace -tt of PostgreSQL).
        const start = new Date(performance.timeOrigin + startedAt).toISOString();
        console.error(`[profile] ${label}: ${took} ms from ${start}, storage requests ${calls || "none"}; first ones: ${timeline.join(", ")}`);
      }
    },
  };
}
