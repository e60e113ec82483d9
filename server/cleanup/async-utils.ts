/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the order of `items`. */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Wraps calls so that at most `limit` of them run at once, whoever makes them; the others wait in order. */
export function limitConcurrency(limit: number): <R>(fn: () => Promise<R>) => Promise<R> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    // A finished call hands its place straight to the next waiting one, so `running` never exceeds `limit`.
    if (running < limit) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/** Wraps calls so that they run one at a time, in the order they were made. */
export function takeTurns(): <R>(fn: () => Promise<R>) => Promise<R> {
  return limitConcurrency(1);
}
