/**
 * Child process: a Ceph RADOS Gateway (test/helpers/rgw.ts: one monitor, one in-memory OSD, the
 * gateway) with one bucket open to browsers (CORS), for the browser bench run against a real S3
 * implementation (`BENCH_S3_SERVICE=rgw`). Unlike s3rver, RGW does not rewrite the parts of a multipart
 * upload into a new file on completion, and it checks signatures and POST policies.
 *
 * Environment: BENCH_BUCKET (default `bench`).
 */
import { CreateBucketCommand, PutBucketCorsCommand, S3Client } from "@aws-sdk/client-s3";
import { startRgw } from "../../test/helpers/rgw";
import { failStart, serveParent } from "../lib/child";

try {
  const rgw = await startRgw();
  const bucket = process.env.BENCH_BUCKET || "bench";
  const client = new S3Client({ region: rgw.region, endpoint: rgw.endpoint, forcePathStyle: true, credentials: rgw.credentials });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    // As s3rver's S3_CORS (test/helpers/emulators.ts): every origin, the methods uploads use, ETag exposed for parts.
    const rule = { AllowedOrigins: ["*"], AllowedMethods: ["GET", "PUT", "POST", "HEAD"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"], MaxAgeSeconds: 3600 };
    await client.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [rule] } }));
  } catch (error) {
    await rgw.stop();
    throw error;
  } finally {
    client.destroy();
  }
  serveParent({ endpoint: rgw.endpoint, region: rgw.region, bucket, credentials: rgw.credentials }, {}, () => rgw.stop());
} catch (error) {
  failStart(error);
}
