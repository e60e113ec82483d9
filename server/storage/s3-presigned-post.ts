import type { S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost as sdkCreatePresignedPost } from "@aws-sdk/s3-presigned-post";
import { createHmac } from "node:crypto";

type Options = Parameters<typeof sdkCreatePresignedPost>[1];
type PresignedPost = Awaited<ReturnType<typeof sdkCreatePresignedPost>>;

/**
 * `createPresignedPost` of `@aws-sdk/s3-presigned-post`, with the same fields and the same policy byte
 * for byte, for a fraction of its CPU: it was about 13% of the upload-url route's CPU (--cpu-prof, S3
 * backend), spent resolving the endpoint ruleset and hashing the credentials for the signing-key cache
 * on every call. Here the bucket's URL is resolved by the SDK once per client, bucket and region, and
 * the signing key (HMAC chain over date, region and service) is kept for its day, per secret and region;
 * the credentials and region are asked of the client every time, as the SDK does.
 */
export async function createPresignedPost(client: S3Client, { Bucket, Key, Conditions = [], Fields = {}, Expires = 3600 }: Options): Promise<PresignedPost> {
  // A key ending in "${filename}" becomes a prefix condition in the SDK's version: left to it.
  if (Key.endsWith("${filename}")) return sdkCreatePresignedPost(client, { Bucket, Key, Conditions, Fields, Expires });
  const now = new Date(Date.now() + (client.config.systemClockOffset ?? 0));
  const signingDate = iso8601(now).replace(/[-:]/g, "");
  const shortDate = signingDate.slice(0, 8);
  const region = await client.config.region();
  const credentials = await client.config.credentials();
  const fields: Record<string, string> = {
    ...Fields,
    bucket: Bucket,
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${credentials.accessKeyId}/${shortDate}/${region}/s3/aws4_request`,
    "X-Amz-Date": signingDate,
    ...(credentials.sessionToken ? { "X-Amz-Security-Token": credentials.sessionToken } : {}),
  };
  // As the SDK builds it: each condition once (by its JSON), then each field, then the key.
  const conditions = new Set<string>(Conditions.map((condition) => JSON.stringify(condition)));
  for (const [name, value] of Object.entries(fields)) conditions.add(JSON.stringify({ [name]: value }));
  conditions.add(JSON.stringify({ key: Key }));
  const expiration = iso8601(new Date(now.valueOf() + Expires * 1000));
  const policy = Buffer.from(`{"expiration":${JSON.stringify(expiration)},"conditions":[${[...conditions].join(",")}]}`, "utf8").toString("base64");
  const signature = createHmac("sha256", signingKey(credentials.secretAccessKey, shortDate, region)).update(policy, "utf8").digest("hex");
  return { url: await bucketUrl(client, Bucket, Key, region), fields: { ...fields, key: Key, Policy: policy, "X-Amz-Signature": signature } };
}

function iso8601(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Signing keys of the day, per secret and region (a handful at most; the day's change empties it). */
const signingKeys = new Map<string, Buffer>();
let signingKeysDay = "";

function signingKey(secretAccessKey: string, shortDate: string, region: string): Buffer {
  if (shortDate !== signingKeysDay) {
    signingKeys.clear();
    signingKeysDay = shortDate;
  }
  const cacheKey = `${region}\n${secretAccessKey}`;
  let key = signingKeys.get(cacheKey);
  if (!key) {
    key = Buffer.from(`AWS4${secretAccessKey}`, "utf8");
    for (const part of [shortDate, region, "s3", "aws4_request"]) key = createHmac("sha256", key).update(part, "utf8").digest();
    if (signingKeys.size >= 64) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/**
 * The URL a presigned POST goes to: the bucket's, whatever the key (POST Object is a request to the
 * bucket). Resolved once by the SDK itself (endpoint ruleset: path style, custom endpoint, FIPS,
 * dual-stack…) per client, bucket and region.
 */
const bucketUrls = new WeakMap<S3Client, Map<string, Promise<string>>>();

function bucketUrl(client: S3Client, bucket: string, key: string, region: string): Promise<string> {
  let urls = bucketUrls.get(client);
  if (!urls) bucketUrls.set(client, (urls = new Map()));
  const cacheKey = `${region}\n${bucket}`;
  let url = urls.get(cacheKey);
  if (!url) {
    url = sdkCreatePresignedPost(client, { Bucket: bucket, Key: key }).then((post) => post.url);
    // A failure (say, credentials not there yet) is not kept.
    url.catch(() => urls.delete(cacheKey));
    urls.set(cacheKey, url);
  }
  return url;
}
