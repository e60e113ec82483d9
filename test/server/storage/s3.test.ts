import { randomUUID } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3Storage, type S3StorageOptions } from "../../../server/storage/s3";
import { copyPartRanges } from "../../../server/storage/s3-multipart-copy";
import { isSourceChanged } from "../../../server/storage/source-changed";
import { startBackend, type S3Service, type TestBackend } from "../../helpers/backends";
import { bytes, describeStorageContract, uploadLikeBrowser } from "./contract";

const MiB = 1024 ** 2;
const noLocalUrls = { localUrl: () => "unused" };

// The run's Ceph RADOS Gateway (test/helpers/rgw.ts): a real S3 that checks signatures and policies.
for (const uploadMethod of ["POST", "PUT"] as const) {
  describeStorageContract(`RGW, presigned ${uploadMethod}`, async () => {
    const backend = await startBackend("s3", { bucket: "contract", s3UploadMethod: uploadMethod });
    return { driver: backend.storage, teardown: backend.close };
  });
}

// A real S3 endpoint (AWS, or any S3-compatible service), when one is configured (see test/README.md).
const env = process.env;
const real = env.S3_TEST_ENDPOINT && env.S3_TEST_BUCKET && env.S3_TEST_ACCESS_KEY_ID && env.S3_TEST_SECRET_ACCESS_KEY;
const realService: S3Service = {
  bucket: env.S3_TEST_BUCKET ?? "",
  endpoint: env.S3_TEST_ENDPOINT ?? "",
  region: env.S3_TEST_REGION ?? "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: env.S3_TEST_ACCESS_KEY_ID ?? "", secretAccessKey: env.S3_TEST_SECRET_ACCESS_KEY ?? "" },
};
const realPathStyle = env.S3_TEST_FORCE_PATH_STYLE === "true" || env.S3_TEST_FORCE_PATH_STYLE === "1";
for (const uploadMethod of ["POST", "PUT"] as const) {
  describeStorageContract(`real S3 endpoint, presigned ${uploadMethod}`, async () => ({ driver: realStorage({ uploadMethod }) }), {
    skip: !real,
  });
}
function realStorage(options: Partial<S3StorageOptions> = {}) {
  return s3Storage({ ...realService, forcePathStyle: realPathStyle, ...options });
}

/** A bucket on a service that enforces what it is asked to: the run's RGW, or the configured real S3. */
interface Subject {
  service: S3Service;
  /** A client of its own (checksums only when required, as the driver's). */
  client(): S3Client;
  close(): Promise<void>;
}

async function rgwSubject(): Promise<Subject> {
  const backend: TestBackend = await startBackend("s3", { bucket: "driver" });
  const service = backend.s3!;
  return { service, client: () => clientOf(service, true), close: backend.close };
}
async function realSubject(): Promise<Subject> {
  return { service: realService, client: () => clientOf(realService, realPathStyle), close: async () => {} };
}
function clientOf(service: S3Service, forcePathStyle: boolean): S3Client {
  return new S3Client({
    region: service.region,
    endpoint: service.endpoint,
    forcePathStyle,
    credentials: service.credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

describeEnforcingService("RGW", rgwSubject);
describeEnforcingService("real S3 endpoint", realSubject, { skip: !real });

function describeEnforcingService(name: string, start: () => Promise<Subject>, { skip = false } = {}) {
  describe.skipIf(skip)(`${name}: what only a service that checks can show`, () => {
    let subject: Subject;
    const prefix = `driver/${randomUUID()}`;
    const expiresAt = () => new Date(Date.now() + 60_000);
    beforeAll(async () => {
      subject = await start();
    });
    afterAll(async () => {
      if (!subject) return;
      // What the cases left under their prefix (a real endpoint's bucket outlives the run).
      const client = subject.client();
      const Bucket = subject.service.bucket;
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }));
      for (const { Key, UploadId } of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
      for await (const page of paginateListObjectsV2({ client }, { Bucket, Prefix: prefix })) {
        for (const { Key } of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket, Key }));
      }
      client.destroy();
      await subject.close();
    });
    const storage = (options: Partial<S3StorageOptions> & { client?: S3Client } = {}) =>
      s3Storage({ bucket: subject.service.bucket, client: options.client ?? subject.client(), ...options });

    it("refuses a presigned PUT whose body is not the signed length or type", async () => {
      const key = `${prefix}/signed.bin`;
      const target = await storage({ uploadMethod: "PUT" }).createUploadTarget({ key, contentType: "text/plain", size: 10, expiresAt: expiresAt() }, noLocalUrls);
      const wrongType = await fetch(target.url, { method: "PUT", headers: { "Content-Type": "text/html" }, body: "0123456789" });
      expect(wrongType.status).toBe(403);
      const wrongLength = await fetch(target.url, { method: "PUT", headers: target.headers, body: "01234567890" });
      expect(wrongLength.status).toBe(403);
      expect(await storage().stat(key)).toBeNull();
    });

    // Several MiB through a gateway on a 2-core machine shared with other test files: minutes, not seconds, under load.
    const MiBs = { timeout: 120_000 };

    it("copies with a multipart copy above the threshold, keeping the type", MiBs, async () => {
      const key = `${prefix}/large.bin`;
      const multipart = storage({ multipartCopyThreshold: 1, copyPartSize: 5 * MiB, uploadMethod: "PUT" });
      const content = bytes(5 * MiB + 1000); // two parts: S3's smallest part is 5 MiB
      const request = { key, contentType: "application/octet-stream", size: content.length, expiresAt: expiresAt() };
      const target = await multipart.createUploadTarget(request, noLocalUrls);
      expect((await uploadLikeBrowser(target, content, "application/octet-stream")).ok).toBe(true);
      await multipart.copy(key, `${key}.copy`);
      expect(await multipart.stat(`${key}.copy`)).toMatchObject({ size: content.length, contentType: "application/octet-stream" });
      expect(await multipart.readFirstBytes(`${key}.copy`, 16)).toEqual(content.subarray(0, 16));
      // Compared as buffers: a deep toEqual over 5 MiB takes seconds.
      const copied = (await multipart.readFirstBytes(`${key}.copy`, content.length))!;
      expect(Buffer.compare(copied, content)).toBe(0);
    });

    // Bytes written to the source (through its still-valid presigned URL) after the driver looked at it
    // and before the service copies it: the copy must not go through (RGW ignores S3's
    // x-amz-copy-source-if-match). `strip` plays a service that honours no copy precondition at all.
    for (const strip of [false, true]) {
      const service = strip ? "a service that honours no copy precondition" : "the service";
      // The multipart copy is refused before it is completed, so its parts may be smaller than S3's 5 MiB.
      for (const [copy, size, threshold] of [["single", 1000, Infinity], ["multipart", 3000, 1]] as const) {
        it(`refuses a ${copy} copy of a source swapped after it was looked at (${service})`, async () => {
          const from = `${prefix}/swap-${copy}-${strip}.bin`;
          const to = `${from}.copy`;
          const client = subject.client();
          await client.send(new PutObjectCommand({ Bucket: subject.service.bucket, Key: from, Body: bytes(size) }));
          const swapped = bytes(size);
          let swaps = 0;
          client.middlewareStack.add(
            (next, context) => async (args) => {
              if (/^(CopyObject|UploadPartCopy)Command$/.test(context.commandName ?? "") && swaps++ === 0) {
                await subject.client().send(new PutObjectCommand({ Bucket: subject.service.bucket, Key: from, Body: swapped }));
              }
              return next(args);
            },
            { step: "initialize", name: "swapBeforeCopy" },
          );
          if (strip) {
            client.middlewareStack.add(
              (next) => async (args) => {
                const headers = (args.request as { headers: Record<string, string> }).headers;
                delete headers["x-amz-copy-source-if-match"];
                delete headers["x-amz-copy-if-match"];
                return next(args);
              },
              { step: "build", priority: "low", name: "stripCopyPreconditions" },
            );
          }
          const driver = storage({ client, multipartCopyThreshold: threshold, copyPartSize: 1000 });
          // Refused by the service's precondition (RGW 16 reads x-amz-copy-if-match on CopyObject, and no
          // precondition at all on UploadPartCopy), or else by the driver's check after the copy.
          const error = (await driver.copy(from, to).catch((caught: unknown) => caught)) as Error;
          expect(error.message).toMatch(/^\[s3\] copy failed .*SourceChanged: the source object changed (before|while) it was copied/);
          expect(isSourceChanged(error)).toBe(true);
          if (copy === "single" && !strip) expect((error.cause as Error).cause).toMatchObject({ name: "PreconditionFailed" });
          if (strip) expect(error.message).toMatch(/changed while it was copied/);
          expect(swaps).toBeGreaterThan(0);
          expect(await driver.stat(to)).toBeNull();
          const open = await client.send(new ListMultipartUploadsCommand({ Bucket: subject.service.bucket, Prefix: to }));
          expect(open.Uploads ?? []).toEqual([]);
        });
      }
    }

    it("answers null for the parts of an upload that was completed or aborted (RGW: NoSuchKey, S3: NoSuchUpload)", async () => {
      const client = subject.client();
      const driver = storage({ client });
      const Bucket = subject.service.bucket;
      const [completed, aborted] = [`${prefix}/completed.bin`, `${prefix}/aborted.bin`];
      const open = async (Key: string) => (await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!;
      const completedId = await open(completed);
      const part = await client.send(new UploadPartCommand({ Bucket, Key: completed, UploadId: completedId, PartNumber: 1, Body: bytes(10) }));
      expect(await driver.multipart!.listParts(completed, completedId)).toMatchObject([{ partNumber: 1, size: 10 }]);
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket, Key: completed, UploadId: completedId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
      );
      expect(await driver.multipart!.listParts(completed, completedId)).toBeNull();
      const abortedId = await open(aborted);
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key: aborted, UploadId: abortedId }));
      expect(await driver.multipart!.listParts(aborted, abortedId)).toBeNull();
      // Aborting again is fine too.
      await driver.multipart!.abort(aborted, abortedId);
    });
  });
}

describe("s3 driver against RGW", () => {
  let subject: Subject;
  let bucket: string;
  const expiresAt = new Date(Date.now() + 10 * 60_000);
  const request = { key: "async-temp/2024/01/02/abc/résumé.pdf", contentType: "application/pdf", size: 1234, expiresAt };
  beforeAll(async () => {
    subject = await rgwSubject();
    bucket = subject.service.bucket;
  });
  afterAll(() => subject?.close());
  const storage = (options: Partial<S3StorageOptions> = {}) => s3Storage({ ...subject.service, ...options });

  it("signs a POST policy that pins the exact key, type, size and expiry", async () => {
    const target = await storage().createUploadTarget(request, noLocalUrls);
    expect(target).toMatchObject({ method: "POST", url: `${subject.service.endpoint}/${bucket}`, headers: {} });
    const fields = target.fields ?? {};
    expect(fields).toMatchObject({ key: request.key, "Content-Type": "application/pdf" });
    const policy = JSON.parse(Buffer.from(fields.Policy ?? "", "base64").toString("utf8")) as { expiration: string; conditions: unknown[] };
    expect(policy.conditions).toEqual(
      expect.arrayContaining([{ key: request.key }, { bucket }, ["eq", "$Content-Type", "application/pdf"], ["content-length-range", 1234, 1234]]),
    );
    // Nothing looser than the exact key, e.g. a "starts-with" condition.
    expect(policy.conditions.filter((c) => Array.isArray(c) && c[0] === "starts-with")).toEqual([]);
    expect(Math.abs(new Date(policy.expiration).getTime() - expiresAt.getTime())).toBeLessThanOrEqual(2000);
  });

  it('refuses a POST key ending in "${filename}", which the policy would turn into a prefix', async () => {
    await expect(storage().createUploadTarget({ ...request, key: "a/${filename}" }, noLocalUrls)).rejects.toThrow("[s3]");
  });

  it("signs Content-Length and Content-Type of a presigned PUT as headers, without checksum parameters", async () => {
    const lifetime = (expiresAt.getTime() - Date.now()) / 1000;
    const target = await storage({ uploadMethod: "PUT" }).createUploadTarget(request, noLocalUrls);
    const url = new URL(target.url);
    expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toEqual(expect.arrayContaining(["content-length", "content-type", "host"]));
    expect(url.searchParams.has("Content-Length")).toBe(false);
    expect(url.searchParams.has("Content-Type")).toBe(false);
    expect([...url.searchParams.keys()].filter((name) => /checksum/i.test(name))).toEqual([]);
    expect(Math.abs(Number(url.searchParams.get("X-Amz-Expires")) - lifetime)).toBeLessThanOrEqual(2);
    // The browser sets Content-Length from the body itself and may not set it by hand.
    expect(target).toMatchObject({ method: "PUT", headers: { "Content-Type": "application/pdf" } });
    expect(Object.keys(target.headers).map((name) => name.toLowerCase())).not.toContain("content-length");
  });

  it("by default uploads with a POST under 8 MiB and a PUT from 8 MiB, unless uploadMethod says which; RGW takes the PUT's exact bytes only", async () => {
    const sized = (size: number) => ({ ...request, key: `async-temp/2024/01/02/abc/${size}.bin`, contentType: "application/octet-stream", size });
    expect((await storage().createUploadTarget(sized(8 * MiB - 1), noLocalUrls)).method).toBe("POST");
    const put = await storage().createUploadTarget(sized(8 * MiB), noLocalUrls);
    expect(put.method).toBe("PUT");
    expect((await storage({ uploadMethod: "POST" }).createUploadTarget(sized(8 * MiB), noLocalUrls)).method).toBe("POST");
    expect((await storage({ uploadMethod: "PUT" }).createUploadTarget(sized(1), noLocalUrls)).method).toBe("PUT");
    const send = (bytes: number) => fetch(put.url, { method: "PUT", headers: put.headers, body: new Uint8Array(bytes) });
    expect((await send(8 * MiB - 1)).status).toBe(403);
    expect((await send(8 * MiB)).status).toBe(200);
    expect((await storage().stat(sized(8 * MiB).key))?.size).toBe(8 * MiB);
  });

  it("refuses an uploadMethod other than POST or PUT at start-up", () => {
    expect(() => storage({ uploadMethod: "put" as "PUT" })).toThrow('[s3] uploadMethod must be "POST" or "PUT"');
  });

  it("sends the override headers of a download URL in its query, signed", async () => {
    const download = { key: "k", filename: "a b.pdf", contentType: "application/pdf", expiresAt };
    const url = new URL(await storage().createDownloadUrl(download, noLocalUrls));
    expect(url.searchParams.get("response-content-disposition")).toBe(`attachment; filename="a b.pdf"; filename*=UTF-8''a%20b.pdf`);
    expect(url.searchParams.get("response-content-type")).toBe("application/pdf");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("splits a multipart copy into parts of the configured size, at most 10,000 of them", () => {
    expect(copyPartRanges(10, 4)).toEqual([
      { partNumber: 1, start: 0, end: 3 },
      { partNumber: 2, start: 4, end: 7 },
      { partNumber: 3, start: 8, end: 9 },
    ]);
    expect(copyPartRanges(8, 4).map((part) => part.end)).toEqual([3, 7]);
    const huge = copyPartRanges(5 * 1024 ** 4, 512 * 1024 ** 2); // 5 TiB, S3's largest object
    expect(huge.length).toBeLessThanOrEqual(10_000);
    expect(huge.at(-1)?.end).toBe(5 * 1024 ** 4 - 1);
  });

  it("throws, rather than answering null, for a missing bucket or unknown credentials", async () => {
    const noBucket = storage({ bucket: "no-such-bucket" });
    await expect(noBucket.stat("a")).rejects.toThrow(/^\[s3\] stat failed .*NoSuchBucket/);
    await expect(noBucket.readFirstBytes("a", 4)).rejects.toThrow(/^\[s3\] readFirstBytes failed .*NoSuchBucket/);
    await expect(noBucket.delete("a")).rejects.toThrow(/^\[s3\] delete failed/);
    const stranger = storage({ credentials: { accessKeyId: "UNKNOWN", secretAccessKey: "x" } });
    await expect(stranger.stat("a")).rejects.toThrow(/^\[s3\] stat failed .*HTTP 403/);
  });
});
