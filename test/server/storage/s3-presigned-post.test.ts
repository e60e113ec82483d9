import { S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost as sdkCreatePresignedPost, type PresignedPostOptions } from "@aws-sdk/s3-presigned-post";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPresignedPost } from "../../../server/storage/s3-presigned-post";

// Signing only: no request reaches these endpoints.
const pathStyle = () =>
  new S3Client({ region: "eu-central-1", endpoint: "http://127.0.0.1:9", forcePathStyle: true, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" } });
const virtualHosted = () =>
  new S3Client({ region: "us-west-2", credentials: { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret/with+chars", sessionToken: "session-token==" } });

const request = (key: string, contentType = "image/jpeg", size = 2_345_678): PresignedPostOptions => ({
  Bucket: "uploads",
  Key: key,
  Expires: 900,
  Fields: { "Content-Type": contentType },
  Conditions: [["eq", "$Content-Type", contentType], ["content-length-range", size, size]],
});

describe("createPresignedPost (ours) gives what @aws-sdk/s3-presigned-post gives", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-12-02T09:30:12.345Z"));
  });
  afterEach(() => vi.useRealTimers());

  for (const [name, client] of [["path style, custom endpoint", pathStyle], ["virtual-hosted AWS, session token", virtualHosted]] as const) {
    it(`the same URL, fields, policy and signature (${name})`, async () => {
      const s3 = client();
      for (const key of ["async-temp/2026/12/02/0b0e/holiday photo.jpg", "async-temp/ünïcödé ✓/\"quotes\" & <tags>.pdf", "a"]) {
        const ours = await createPresignedPost(s3, request(key));
        expect(ours).toEqual(await sdkCreatePresignedPost(s3, request(key)));
        // The second time comes from the caches (bucket URL, signing key): still the same.
        expect(await createPresignedPost(s3, request(key, "application/pdf", 1))).toEqual(await sdkCreatePresignedPost(s3, request(key, "application/pdf", 1)));
      }
    });
  }

  it("signs with the day's key: the same as the SDK after the date changes", async () => {
    const s3 = pathStyle();
    await createPresignedPost(s3, request("k1"));
    vi.setSystemTime(new Date("2026-12-03T00:00:01Z"));
    const ours = await createPresignedPost(s3, request("k1"));
    expect(ours.fields["X-Amz-Credential"]).toContain("/20261203/");
    expect(ours).toEqual(await sdkCreatePresignedPost(s3, request("k1")));
  });

  it("keeps the signing keys of two secrets in one region apart", async () => {
    const client = (secretAccessKey: string) => new S3Client({ region: "eu-central-1", endpoint: "http://127.0.0.1:9", forcePathStyle: true, credentials: { accessKeyId: "AKID", secretAccessKey } });
    const [one, two] = [client("first-secret"), client("second-secret")];
    const first = await createPresignedPost(one, request("k"));
    const second = await createPresignedPost(two, request("k"));
    expect(second.fields["X-Amz-Signature"]).not.toBe(first.fields["X-Amz-Signature"]);
    expect(first).toEqual(await sdkCreatePresignedPost(one, request("k")));
    expect(second).toEqual(await sdkCreatePresignedPost(two, request("k")));
  });

  it("leaves a key ending in ${filename} (a prefix condition) to the SDK", async () => {
    const s3 = pathStyle();
    expect(await createPresignedPost(s3, request("dir/${filename}"))).toEqual(await sdkCreatePresignedPost(s3, request("dir/${filename}")));
  });
});
