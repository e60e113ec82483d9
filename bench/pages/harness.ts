/**
 * The browser side of the upload bench, shared by every page: the page says when it is ready, and
 * reports one result when every chosen file has finished. Time is taken in the page, from the file
 * input's `change` event (the moment the files are chosen) to the last upload's end, so neither
 * Playwright nor file creation is in the figure.
 */
export interface PageResult {
  ms: number;
  done: number;
  failed: number;
  errors: string[];
}

interface BenchState {
  ready: boolean;
  result: PageResult | null;
}

declare global {
  interface Window {
    bench: BenchState;
  }
}

window.bench = { ready: false, result: null };

export function ready(): void {
  window.bench.ready = true;
}

export function report(result: PageResult): void {
  window.bench.result = { ...result, errors: result.errors.slice(0, 5) };
}

/** The page's query parameters (the bench passes endpoints and limits this way). */
export const params = new URLSearchParams(location.search);

export const FIELD_ID = "bench.file";
