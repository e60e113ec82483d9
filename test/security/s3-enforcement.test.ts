import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadTarget } from "../../shared/schemas";
import { s3Storage } from "../../server/storage/s3";
import type { StorageDriver } from "../../server/storage/types";
import { startBackend, type TestBackend } from "../helpers/backends";

/**
 * What the S3 service itself refuses, given the driver's presigned POST (policy) and PUT (signed headers)
 * and its part URLs: run against Ceph's RADOS Gateway (test/helpers/rgw.ts), which checks signatures and
 * policies as S3 does. Each refusal is the service's answer (status and code), and nothing is stored.
 * Every case starts with the same request made right, which must succeed, so that a refusal means
 * something.
 */

const noLocalUrls = { localUrl: () => "unused" };
const TYPE = "application/pdf";
const SIZE = 100;
const body = (size = SIZE) => new Uint8Array(size).fill(0x25);

let backend: TestBackend;
beforeAll(async () => {
  backend = await startBackend("s3", { bucket: "enforcement" });
});
afterAll(() => backend?.close());

/** A fresh key under the temp prefix, as the server makes them. */
const newKey = () => `async-temp/2026/01/02/${randomUUID()}/doc.pdf`;

interface Attempt {
  /** The URL, headers or fields to use instead of the issued ones. */
  url?: string;
  headers?: Record<string, string>;
  fields?: Record<string, string>;
  bytes?: Uint8Array<ArrayBuffer>;
  contentType?: string;
}

/** Sends `bytes` as the browser would to the target, with the attempt's changes. */
function send(target: UploadTarget, attempt: Attempt = {}): Promise<Response> {
  const bytes = attempt.bytes ?? body();
  const url = attempt.url ?? target.url;
  if (target.method === "PUT") {
    return fetch(url, { method: "PUT", headers: attempt.headers ?? target.headers, body: new Blob([bytes]) });
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(attempt.fields ?? target.fields ?? {})) form.append(name, value);
  form.append("file", new Blob([bytes], { type: attempt.contentType ?? TYPE }), "doc.pdf");
  return fetch(url, { method: "POST", body: form });
}

/** The service's error code (S3's XML `<Code>`). */
async function codeOf(response: Response): Promise<string> {
  return /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1] ?? "(no code)";
}

async function expectRefused(response: Response, status: number, codes: string[], key: string) {
  expect(response.status).toBe(status);
  expect(codes).toContain(await codeOf(response));
  expect(await backend.list()).not.toContain(key);
}

describe.each(["POST", "PUT"] as const)("RGW refuses what a presigned %s does not allow", (method) => {
  let storage: StorageDriver;
  beforeAll(() => {
    storage = s3Storage({ bucket: backend.s3!.bucket, client: backend.s3Client!, uploadMethod: method });
  });
  const issue = (key: string, expiresAt = new Date(Date.now() + 60_000)) =>
    storage.createUploadTarget({ key, contentType: TYPE, size: SIZE, expiresAt }, noLocalUrls);
  /** PUT: the signature covers length, type, key and expiry (403 SignatureDoesNotMatch). POST: the policy does. */
  const refusedAs = (post: [number, string[]]): [number, string[]] => (method === "PUT" ? [403, ["SignatureDoesNotMatch", "AccessDenied"]] : post);

  it("takes the exact bytes as issued (the control)", async () => {
    const key = newKey();
    const response = await send(await issue(key));
    expect(response.status, await response.clone().text()).toBeLessThan(300);
    expect(await backend.storage.stat(key)).toMatchObject({ size: SIZE, contentType: TYPE });
  });

  it("a byte more, or a byte less", async () => {
    const key = newKey();
    const target = await issue(key);
    await expectRefused(await send(target, { bytes: body(SIZE + 1) }), ...refusedAs([400, ["EntityTooLarge"]]), key);
    await expectRefused(await send(target, { bytes: body(SIZE - 1) }), ...refusedAs([400, ["EntityTooSmall"]]), key);
  });

  it("another Content-Type", async () => {
    const key = newKey();
    const target = await issue(key);
    const attempt: Attempt =
      method === "PUT" ? { headers: { ...target.headers, "Content-Type": "text/html" } } : { fields: { ...target.fields, "Content-Type": "text/html" }, contentType: "text/html" };
    await expectRefused(await send(target, attempt), ...refusedAs([403, ["AccessDenied"]]), key);
  });

  it("another key", async () => {
    const key = newKey();
    const other = newKey();
    const target = await issue(key);
    const attempt: Attempt =
      method === "PUT" ? { url: target.url.replace(encodeURIComponent(key.split("/")[4]!), encodeURIComponent(other.split("/")[4]!)) } : { fields: { ...target.fields, key: other } };
    if (method === "PUT") expect(attempt.url).not.toBe(target.url);
    await expectRefused(await send(target, attempt), ...refusedAs([403, ["AccessDenied"]]), other);
    expect(await backend.list()).not.toContain(key);
  });

  it("an expired URL", async () => {
    const key = newKey();
    const target = await issue(key, new Date(Date.now() + 1000));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await expectRefused(await send(target), 403, ["AccessDenied"], key);
  });

  it("a tampered signature, or (POST) a policy rewritten to allow more", async () => {
    const key = newKey();
    const target = await issue(key);
    if (method === "PUT") {
      const url = new URL(target.url);
      const signature = url.searchParams.get("X-Amz-Signature")!;
      url.searchParams.set("X-Amz-Signature", `${signature.slice(0, -1)}${signature.endsWith("0") ? "1" : "0"}`);
      await expectRefused(await send(target, { url: url.toString() }), 403, ["SignatureDoesNotMatch"], key);
      return;
    }
    const fields = target.fields!;
    const signature = fields["X-Amz-Signature"]!;
    const tamperedSignature = { ...fields, "X-Amz-Signature": `${signature.slice(0, -1)}${signature.endsWith("0") ? "1" : "0"}` };
    await expectRefused(await send(target, { fields: tamperedSignature }), 403, ["SignatureDoesNotMatch", "AccessDenied"], key);
    // The policy rewritten to take any size and type, the signature kept.
    const policy = JSON.parse(Buffer.from(fields.Policy!, "base64").toString("utf8")) as { conditions: unknown[] };
    policy.conditions = policy.conditions.filter((condition) => !Array.isArray(condition));
    const rewritten = { ...fields, Policy: Buffer.from(JSON.stringify(policy)).toString("base64") };
    await expectRefused(await send(target, { fields: rewritten, bytes: body(SIZE * 10), contentType: "text/html" }), 403, ["SignatureDoesNotMatch", "AccessDenied"], key);
  });
});

describe("RGW refuses a part URL used for another part or another upload", () => {
  it("takes the part it was signed for, and refuses it for another part number or upload id", async () => {
    const multipart = backend.storage.multipart!;
    const key = newKey();
    const expiresAt = new Date(Date.now() + 60_000);
    const part = new Uint8Array(multipart.minPartSize).fill(1);
    const { uploadId } = await multipart.create({ key, contentType: TYPE, size: part.length * 2 });
    const { uploadId: otherUpload } = await multipart.create({ key, contentType: TYPE, size: part.length * 2 });
    const [target] = await multipart.signParts({ key, uploadId, parts: [{ partNumber: 1, offset: 0, size: part.length }], expiresAt }, noLocalUrls);
    const put = (url: string) => fetch(url, { method: "PUT", headers: target!.headers, body: new Blob([part]) });
    const changed = (name: string, value: string) => {
      const url = new URL(target!.url);
      url.searchParams.set(name, value);
      return url.toString();
    };
    for (const url of [changed("partNumber", "2"), changed("uploadId", otherUpload)]) {
      const response = await put(url);
      expect(response.status).toBe(403);
      expect(await codeOf(response)).toBe("SignatureDoesNotMatch");
    }
    expect(await multipart.listParts(key, uploadId)).toEqual([]);
    expect(await multipart.listParts(key, otherUpload)).toEqual([]);
    // The control: the URL as signed.
    expect((await put(target!.url)).status).toBe(200);
    expect(await multipart.listParts(key, uploadId)).toMatchObject([{ partNumber: 1, size: part.length }]);
    await Promise.all([multipart.abort(key, uploadId), multipart.abort(key, otherUpload)]);
  });
});
