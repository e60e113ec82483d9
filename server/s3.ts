// `async-uploads/s3`: the S3 driver, on its own subpath so that only apps using S3 load (and install)
// the AWS SDK. Loaded through `importPeer` so a missing SDK package is reported in one line.
import { importPeer } from "./peer-dependency.js";

const driver = await importPeer(
  () => import("./storage/s3.js"),
  ["@aws-sdk/client-s3", "@aws-sdk/s3-request-presigner", "@aws-sdk/s3-presigned-post"],
  "async-uploads/s3",
);

/** A storage driver for Amazon S3 and S3-compatible services (MinIO, R2, Ceph RGW). */
export const s3Storage: typeof driver.s3Storage = driver.s3Storage;
export type { S3StorageOptions } from "./storage/s3.js";
