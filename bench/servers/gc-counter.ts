import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";

/**
 * In a bench server: counts the process's full (mark-compact) and young collections and their pause
 * time, for the parent's `gc-reset` and `gc` requests. The same in every server it compares, and no
 * Node flag: the fs-streaming bench shows with it how often each server collects per GiB received.
 * https://nodejs.org/api/perf_hooks.html#garbage-collection-gc-details
 */
export function gcCounter() {
  const counts = { major: 0, minor: 0, majorMs: 0, minorMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        counts.major++;
        counts.majorMs += entry.duration;
      } else {
        counts.minor++;
        counts.minorMs += entry.duration;
      }
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return {
    "gc-reset": () => {
      Object.assign(counts, { major: 0, minor: 0, majorMs: 0, minorMs: 0 });
      return {};
    },
    gc: () => ({ ...counts }),
  };
}
