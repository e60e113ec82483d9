/**
 * The defaults of a field's `multipartThreshold` and `partSize` (server/registry.ts), from the browser
 * bench (bench/browser-upload.ts, headless Chromium against s3rver and Ceph RGW). Chunks cost a CORS
 * preflight and a request each, and s3rver rewrites every part on completion: a 100 MiB file went
 * faster as one request than in parts on both (and Uppy, the peer, chunks only above 100 MiB), while
 * a 1 GiB file in 8 MiB parts, six at a time, took 0.60x (RGW) and 0.74x (s3rver) the time of Uppy's
 * 5 MiB parts. One PUT of 1 GiB was about as fast on RGW (0.93x the parts, one run each), but a cut
 * costs the whole file and it cannot resume after a reload, so the threshold stays just above Uppy's.
 */
export const DEFAULT_MULTIPART_THRESHOLD = 128 * 2 ** 20;
export const DEFAULT_PART_SIZE = 8 * 2 ** 20;
