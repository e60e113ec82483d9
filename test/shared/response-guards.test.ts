import { describe, expect, it } from "vitest";
import type { ListPartsResponse, MultipartUploadUrlResponse, SignPartsResponse } from "../../shared/multipart";
import * as guards from "../../shared/response-guards";
import type { UploadUrlResponse } from "../../shared/schemas";

const expiresAt = "2030-01-01T00:00:00.000Z";
const single: UploadUrlResponse = {
  key: "async-temp/a/b.png",
  upload: { method: "PUT", url: "https://bucket.s3.test/b.png?X-Amz-Signature=1", headers: { "Content-Type": "image/png" } },
  expiresAt,
};
const chunked: MultipartUploadUrlResponse = { key: "async-temp/a/film.bin", multipart: { uploadId: "u-1", partSize: 5_242_880, partCount: 3 }, expiresAt };
const signed: SignPartsResponse = {
  parts: [{ partNumber: 1, method: "PUT", url: "/async-uploads/fs/upload-part/t.sig", headers: {} }],
  expiresAt,
};
const listed: ListPartsResponse = { parts: [{ partNumber: 1, size: 5, etag: '"e"' }, { partNumber: 2, size: 0 }], partSize: 5, partCount: 2, expiresAt };

describe("response guards", () => {
  it("accept the bodies the server sends, extra properties included", () => {
    expect(guards.isUploadUrlResponse(single)).toBe(true);
    expect(guards.isUploadUrlResponse({ ...single, upload: { method: "POST", url: "http://localhost:4566/b", fields: { key: "k" } }, extra: 1 })).toBe(true);
    expect(guards.isMultipartUploadUrlResponse(chunked)).toBe(true);
    expect(guards.isSignPartsResponse(signed)).toBe(true);
    expect(guards.isListPartsResponse(listed)).toBe(true);
    expect(guards.isListPartsResponse({ ...listed, parts: [] })).toBe(true);
    expect(guards.isCompleteMultipartResponse({ key: "async-temp/a/film.bin" })).toBe(true);
    expect(guards.isErrorBody({ error: { code: "file_too_large", message: "Too large." } })).toBe(true);
    // A code this client does not know yet is still the server's code.
    expect(guards.isErrorBody({ error: { code: "slow_down" } })).toBe(true);
  });

  it("refuse bodies of another shape", () => {
    expect(guards.isUploadUrlResponse(chunked)).toBe(false);
    expect(guards.isMultipartUploadUrlResponse(single)).toBe(false);
    expect(guards.isUploadUrlResponse({ ...single, key: "" })).toBe(false);
    expect(guards.isUploadUrlResponse({ ...single, upload: { ...single.upload, method: "GET" } })).toBe(false);
    expect(guards.isUploadUrlResponse({ ...single, upload: { ...single.upload, headers: { "Content-Length": 5 } } })).toBe(false);
    expect(guards.isMultipartUploadUrlResponse({ ...chunked, multipart: { ...chunked.multipart, partSize: 1.5 } })).toBe(false);
    expect(guards.isMultipartUploadUrlResponse({ ...chunked, multipart: { ...chunked.multipart, partCount: 0 } })).toBe(false);
    expect(guards.isSignPartsResponse({ ...signed, expiresAt: "soon" })).toBe(false);
    expect(guards.isSignPartsResponse({ parts: signed.parts[0], expiresAt })).toBe(false);
    expect(guards.isListPartsResponse({ ...listed, parts: [{ partNumber: 1, size: -1 }] })).toBe(false);
    expect(guards.isCompleteMultipartResponse({})).toBe(false);
    expect(guards.isErrorBody({ error: "file_too_large" })).toBe(false);
    for (const body of [null, undefined, "", [], 42]) {
      expect(guards.isUploadUrlResponse(body)).toBe(false);
      expect(guards.isErrorBody(body)).toBe(false);
    }
  });

  it("refuse targets that are not http(s) URLs", () => {
    for (const url of ["javascript:alert(1)", "data:text/html,x", "http://[::1"]) {
      expect(guards.isUploadUrlResponse({ ...single, upload: { ...single.upload, url } })).toBe(false);
      expect(guards.isSignPartsResponse({ ...signed, parts: [{ ...signed.parts[0], url }] })).toBe(false);
    }
  });

  it("check the processing plan of upload-url and the processing state", () => {
    const plan = { fileId: "0b5c…", topicToken: "t.sig", steps: [{ name: "verify", label: "Checking" }] };
    const state = { fileId: "0b5c…", state: "running", step: "verify", label: "Checking", reason: null, version: 2 };
    expect(guards.isUploadUrlResponse({ ...single, processing: plan })).toBe(true);
    expect(guards.isMultipartUploadUrlResponse({ ...chunked, processing: plan })).toBe(true);
    expect(guards.isUploadUrlResponse({ ...single, processing: { ...plan, steps: [{ name: "verify" }] } })).toBe(false);
    expect(guards.isMultipartUploadUrlResponse({ ...chunked, processing: { ...plan, topicToken: "" } })).toBe(false);
    expect(guards.isProcessingState(state)).toBe(true);
    expect(guards.isProcessingState({ ...state, state: "queued", step: null, label: null })).toBe(true);
    expect(guards.isProcessingState({ ...state, state: "scanning" })).toBe(false);
    expect(guards.isProcessingState({ ...state, version: -1 })).toBe(false);
    expect(guards.isProcessingState({ ...state, reason: 5 })).toBe(false);
    expect(guards.isProcessingState({ ...state, step: undefined })).toBe(false);
  });
});
