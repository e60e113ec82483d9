/**
 * Waits `ms`, or less when `signal` aborts first; never rejects. Used for backoff in the browser and
 * for pauses between cleanup batches, so that a cancel or a signal never waits out the delay.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
