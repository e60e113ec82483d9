import { describe, expect, it } from "vitest";
import { CONTENT_TYPE, FIELD_ID, INSTANCE_ID, uploadUrlRequestSchema } from "../../shared/schemas";

const VALID = { fieldId: "documents.attachment", filename: "report.pdf", contentType: "application/pdf", size: 1234 };
const messagesOf = (body: unknown) => uploadUrlRequestSchema.safeParse(body).error?.issues.map((issue) => issue.message).join("; ") ?? "";

describe("uploadUrlRequestSchema", () => {
  it("accepts the contract's body, with the optional instanceId and multipart", () => {
    expect(uploadUrlRequestSchema.parse(VALID)).toEqual(VALID);
    const full = { ...VALID, instanceId: "record_42-a", multipart: true };
    expect(uploadUrlRequestSchema.parse(full)).toEqual(full);
  });

  it.each([
    [{ fieldId: "" }, "fieldId must be"],
    [{ fieldId: "docs/../x" }, "fieldId must be"],
    [{ fieldId: "f".repeat(101) }, "fieldId must be"],
    [{ filename: "../../etc/passwd" }, "path separator"],
    [{ filename: "invoice\u202efdp.exe" }, "invisible"],
    [{ filename: "" }, "empty"],
    [{ contentType: "application/pdf; charset=binary" }, "without parameters"],
    [{ contentType: "pdf" }, "must be a MIME type"],
    [{ contentType: "text/html\r\nX-Injected: 1" }, "must be a MIME type"],
    [{ size: 0 }, "at least 1 byte"],
    [{ size: -1 }, "at least 1 byte"],
    [{ size: 1.5 }, "whole number"],
    [{ size: 2 ** 53 }, "too large"],
    [{ instanceId: "../other" }, "instanceId must be"],
    [{ instanceId: "" }, "instanceId must be"],
  ])("refuses %j", (change, message) => {
    expect(messagesOf({ ...VALID, ...change })).toContain(message);
  });

  it("refuses a missing field, a wrong type and a field it does not know", () => {
    const { size: _size, ...withoutSize } = VALID;
    expect(uploadUrlRequestSchema.safeParse(withoutSize).success).toBe(false);
    expect(uploadUrlRequestSchema.safeParse({ ...VALID, size: "1234" }).success).toBe(false);
    expect(uploadUrlRequestSchema.safeParse({ ...VALID, multipart: "yes" }).success).toBe(false);
    expect(uploadUrlRequestSchema.safeParse({ ...VALID, key: "async-temp/x" }).success).toBe(false);
  });
});

describe("the patterns of keys' parts", () => {
  it("FIELD_ID allows the app's dotted names and nothing that is a path", () => {
    expect(FIELD_ID.test("documents.attachment")).toBe(true);
    expect(FIELD_ID.test("ns:field_1-a")).toBe(true);
    expect(FIELD_ID.test("a/b")).toBe(false);
    expect(FIELD_ID.test("a b")).toBe(false);
  });

  it("INSTANCE_ID has no dots, so no `..` can reach a key", () => {
    expect(INSTANCE_ID.test("record-1_A")).toBe(true);
    expect(INSTANCE_ID.test("..")).toBe(false);
    expect(INSTANCE_ID.test("a".repeat(101))).toBe(false);
  });

  it("CONTENT_TYPE is a bare type/subtype, any case", () => {
    expect(CONTENT_TYPE.test("image/svg+xml")).toBe(true);
    expect(CONTENT_TYPE.test("Image/PNG")).toBe(true);
    expect(CONTENT_TYPE.test("image/*")).toBe(false);
    expect(CONTENT_TYPE.test("text/plain;charset=utf-8")).toBe(false);
  });
});
