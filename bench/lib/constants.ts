/** The field every bench server registers (any type, up to 4 GiB, multiple). */
export const BENCH_FIELD = "bench.file";
export const BENCH_SECRET = "bench-secret-bench-secret-bench-secret-0123456789";
/** The same field with chunked uploads turned off (`multipartThreshold: Infinity`): one request per file. */
export const BENCH_FIELD_SINGLE = "bench.single";
