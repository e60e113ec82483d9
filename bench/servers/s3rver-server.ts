/**
 * Child process: s3rver (test/helpers/emulators.ts) in its own process, so that the bytes it receives
 * and writes do not share an event loop with the server or the bench that is being timed.
 */
import { startS3rver } from "../../test/helpers/emulators";
import { failStart, serveParent } from "../lib/child";

try {
  const s3 = await startS3rver({ bucket: process.env.BENCH_BUCKET || "bench" });
  const { stop, ...info } = s3;
  serveParent(info, {}, stop);
} catch (error) {
  failStart(error);
}
