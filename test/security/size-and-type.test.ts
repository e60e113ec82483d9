import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadUrlResponse } from "../../shared/schemas";
import type { StorageDriver } from "../../server/storage/types";
import { encodePng, GREYSCALE, PDF_BYTES, PNG_1x1 } from "../helpers/sample-files";
import { uploadLikeBrowser } from "../server/storage/contract";
import { BACKENDS, createHarness, errorOf, FIELDS, refused, text, type Harness } from "./harness";

/**
 * Size and type, on every backend. The filesystem route enforces the size while streaming; S3 pins
 * it in the signed policy (s3rver, like some S3-compatible services, does not enforce it) and Azure
 * cannot pin it at all, so for those commit is the check that holds. The type is always sniffed.
 */

const HTML = text("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>");
const SVG_SCRIPT = text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>');
// A PNG whose bytes after IEND are PHP: a valid image to every image library.
const PNG_PHP = Uint8Array.from(Buffer.concat([Buffer.from(PNG_1x1), Buffer.from("<?php system($_GET['c']); ?>")]));
const WINDOWS_EXE = Uint8Array.from(Buffer.concat([Buffer.from("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "latin1"), Buffer.alloc(200)]));

for (const backendName of BACKENDS) {
  describe(`size and type on ${backendName}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(backendName, { maxPendingUploadsPerPrincipal: 1000 });
    });
    afterAll(() => h?.close());

    describe("size", () => {
      const issue = (fieldId: string, size: number, extra: Record<string, unknown> = {}) =>
        h.issue({ fieldId, filename: "x.bin", contentType: "application/octet-stream", size, ...extra });

      /** The bytes are sent; where the backend cannot refuse them, commit must. */
      async function sendThenSave(target: UploadUrlResponse, bytes: Uint8Array<ArrayBuffer>, fieldId: string, instanceId: string) {
        const response = await h.upload(target, bytes);
        if (backendName === "filesystem") {
          // Refused while streaming: nothing is stored, so the save has nothing to take.
          expect(response.ok).toBe(false);
          expect(await h.backend.storage.stat(target.key)).toBeNull();
        }
        const error = await refused(h.save("alice", instanceId, fieldId, target.key));
        expect(await h.backend.storage.stat(target.key)).toBeNull();
        expect(h.records.get(instanceId)).toBeUndefined();
        return { response, error };
      }

      it("a body larger than declared is refused and leaves nothing", async () => {
        const { response } = await sendThenSave(await issue(FIELDS.file, 100), new Uint8Array(1000), FIELDS.file, "big-1");
        if (backendName === "filesystem") expect((await errorOf(response, 413)).code).toBe("file_too_large");
      });

      it("a body smaller than declared is refused and leaves nothing", async () => {
        const { response } = await sendThenSave(await issue(FIELDS.file, 1000), new Uint8Array(100), FIELDS.file, "small-1");
        if (backendName === "filesystem") expect((await errorOf(response, 400)).code).toBe("invalid_request");
      });

      it("a declared size within the field's limit cannot smuggle a body beyond it", async () => {
        // docs.small takes 1 KiB: declare 10 bytes, send 64 KiB.
        await sendThenSave(await issue(FIELDS.small, 10), new Uint8Array(64 * 1024).fill(0x41), FIELDS.small, "smuggle-1");
      });

      it("zero bytes: an empty declaration is refused at the door, and an empty body sent for one byte at commit", async () => {
        const response = await h.request("/upload-url", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ fieldId: FIELDS.file, filename: "empty.txt", contentType: "text/plain", size: 0 }),
        });
        expect((await errorOf(response, 400)).code).toBe("invalid_request");
        await sendThenSave(await issue(FIELDS.file, 1), new Uint8Array(0), FIELDS.file, "empty-1");
      });

      it("a declared size above the field's maximum never gets a URL, however it is written", async () => {
        for (const size of [1024 * 1024 + 1, 1e21, 2 ** 53, "1e3", -0.5, Number.MAX_VALUE]) {
          const response = await h.request("/upload-url", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ fieldId: FIELDS.file, filename: "x.bin", contentType: "application/octet-stream", size }),
          });
          expect([400, 413], String(size)).toContain(response.status);
        }
      });

      it.runIf(backendName === "s3")("bytes swapped through the still-valid presigned URL between check and copy are not committed", async () => {
        const target = await h.issue({ fieldId: FIELDS.image, filename: "p.png", contentType: "image/png", size: PNG_1x1.length });
        expect((await h.upload(target, PNG_1x1)).ok).toBe(true);
        // Same size, other content: HTML padded to the PNG's length, uploaded with the same signed form.
        const swap = new Uint8Array(PNG_1x1.length).fill(0x20);
        swap.set(text("<html><script>alert(1)</script>"));
        const field = h.uploads.registry.get(FIELDS.image)!;
        const original = field.storage;
        // The race, made deterministic: the attacker's second upload lands right before the copy.
        const racing: StorageDriver = Object.assign(Object.create(original) as StorageDriver, {
          copy: async (from: string, to: string) => {
            expect((await uploadLikeBrowser(target.upload, swap, "image/png")).ok).toBe(true);
            return original.copy(from, to);
          },
        });
        Object.assign(field, { storage: racing });
        const before = await h.backend.list();
        try {
          const error = await refused(h.save("alice", "swap-1", FIELDS.image, target.key));
          expect(error.message).toMatch(/changed while it was being saved|not accepted/);
        } finally {
          Object.assign(field, { storage: original });
        }
        expect((await h.backend.list()).filter((key) => !before.includes(key))).toEqual([]);
        expect(await h.backend.storage.stat(target.key)).toBeNull();
        expect(h.records.get("swap-1")).toBeUndefined();
      });
    });

    describe("type", () => {
      async function attempt(fieldId: string, bytes: Uint8Array<ArrayBuffer>, filename: string, contentType: string) {
        const key = await h.uploaded(fieldId, bytes, { filename, contentType });
        const instanceId = `t-${Math.random().toString(36).slice(2)}`;
        return { key, instanceId, save: () => h.save("alice", instanceId, fieldId, key) };
      }
      async function expectRefusedAndGone(fieldId: string, bytes: Uint8Array<ArrayBuffer>, filename: string, contentType: string) {
        const { key, instanceId, save } = await attempt(fieldId, bytes, filename, contentType);
        const error = await refused(save());
        expect(await h.backend.storage.stat(key)).toBeNull();
        expect(h.records.get(instanceId)).toBeUndefined();
        expect((await h.backend.list()).filter((stored) => stored.startsWith(`${fieldId}/${instanceId}/`))).toEqual([]);
        return error;
      }

      it("HTML declared as a PNG image is refused and deleted", async () => {
        const error = await expectRefusedAndGone(FIELDS.image, HTML, "cat.png", "image/png");
        expect(error.message).toMatch(/text\/plain.*not accepted/);
      });

      it("an SVG with script, declared honestly as image/svg+xml, passes the door but never commits", async () => {
        await expectRefusedAndGone(FIELDS.image, SVG_SCRIPT, "logo.svg", "image/svg+xml");
        await expectRefusedAndGone(FIELDS.image, text(`<?xml version="1.0"?>${new TextDecoder().decode(SVG_SCRIPT)}`), "logo.svg", "image/svg+xml");
      });

      it("a Windows executable renamed cat.png is refused", async () => {
        const error = await expectRefusedAndGone(FIELDS.image, WINDOWS_EXE, "cat.png", "image/png");
        expect(error.message).toMatch(/not accepted/);
      });

      it("extension spoofing: a PNG/PHP polyglot named shell.php is refused by an image field", async () => {
        const error = await expectRefusedAndGone(FIELDS.image, PNG_PHP, "shell.php", "image/png");
        expect(error.message).toMatch(/ends in \.php but it is image\/png/);
      });

      it("extension spoofing: double extensions count by the last one", async () => {
        await expectRefusedAndGone(FIELDS.image, PNG_1x1, "photo.png.html", "image/png");
        const ok = await attempt(FIELDS.image, PNG_1x1, "photo.html.png", "image/png");
        expect((await ok.save()).committed[0]).toMatchObject({ contentType: "image/png", filename: "photo.html.png" });
      });

      it("extension spoofing: HTML named report.docx is refused by a field that accepts .docx", async () => {
        const error = await expectRefusedAndGone(
          FIELDS.word, HTML, "report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        );
        expect(error.message).toMatch(/not accepted/);
      });

      it("a PDF renamed .jpg cannot enter an image field, and a real PDF enters the document field", async () => {
        await expectRefusedAndGone(FIELDS.image, PDF_BYTES, "scan.jpg", "image/jpeg");
        const ok = await attempt(FIELDS.word, PDF_BYTES, "scan.pdf", "application/pdf");
        expect((await ok.save()).committed[0]?.contentType).toBe("application/pdf");
      });

      it("a GIF/JavaScript polyglot is only ever a GIF: committed as image/gif, never as script", async () => {
        // `GIF89a=…` is both a GIF header and a JavaScript expression statement.
        const polyglot = text("GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=0;alert(document.domain)//");
        const { save } = await attempt(FIELDS.image, polyglot, "pixel.gif", "image/gif");
        const result = await save();
        expect(result.committed[0]).toMatchObject({ contentType: "image/gif", filename: "pixel.gif" });
        // How it is served is checked in downloads.test.ts: attachment, nosniff, no script.
      });

      it("a pixel flood (a PNG header claiming 65535×65535) is committed without decoding, in bounded time", async () => {
        const flood = pngHeader(65_535, 65_535);
        const started = Date.now();
        const { save } = await attempt(FIELDS.image, flood, "flood.png", "image/png");
        const result = await save();
        expect(Date.now() - started).toBeLessThan(5000);
        expect(result.committed[0]).toMatchObject({ contentType: "image/png", width: 65_535, height: 65_535, size: flood.length });
      });
    });
  });
}

/** A PNG with an IHDR of the given size and one tiny compressed IDAT: valid headers, absurd dimensions. */
function pngHeader(width: number, height: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(encodePng(width, height, GREYSCALE, Buffer.alloc(1)));
}
