import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadUrlResponse } from "../../shared/schemas";
import { contentDisposition } from "../../server/storage/content-disposition";
import { PDF_BYTES } from "../helpers/uploads";
import { BACKENDS, createHarness, errorOf, FIELDS, recordingStorage, refused, TEMP_KEY, type Harness } from "./harness";

/**
 * Key and path handling, from the attacker's side, on every backend. Keys are made by the server only,
 * so what an attacker controls is the file name (it becomes the last key segment), the form value
 * (looked up in the database), the record id the app passes on, and `?key=` on downloads.
 */

// Names that must be refused outright: they are paths, not names.
const REFUSED_NAMES: Array<[string, string]> = [
  ["plain traversal", "../../etc/passwd"],
  ["traversal with backslashes", "..\\..\\windows\\win.ini"],
  ["mixed separators", "..\\../..\\etc/passwd"],
  ["absolute POSIX path", "/etc/passwd"],
  ["absolute Windows path", "C:\\Windows\\System32\\drivers\\etc\\hosts"],
  ["UNC path", "\\\\evil.example\\share\\x.pdf"],
  ["file URL", "file:///etc/passwd"],
  ["NUL byte", "invoice.pdf\u0000.html"],
  ["only dots", "..."],
  ["a lone UTF-16 surrogate", "report\ud800.pdf"],
  ["201 characters", `${"a".repeat(197)}.pdf`],
];

// Names that are accepted but must come out as one harmless key segment: every encoding of a
// separator or of "..", and Unicode characters that look like (or normalise to) one.
const SANITISED_NAMES: Array<[string, string]> = [
  ["percent-encoded traversal", "..%2F..%2Fetc%2Fpasswd"],
  ["percent-encoded dots", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
  ["double percent-encoding", "%252e%252e%252fetc%252fpasswd"],
  ["overlong UTF-8 encoding", "..%c0%af..%c0%afetc%c0%afpasswd"],
  ["percent-encoded backslash", "..%5c..%5cboot.ini"],
  ["percent-encoded NUL", "invoice.pdf%00.html"],
  ["fullwidth solidus and full stops", "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc\uff0fpasswd"],
  ["fullwidth reverse solidus", "..\uff3c..\uff3cboot.ini"],
  ["division slash and fraction slash", "..\u2215..\u2044etc"],
  ["a drive letter without separator", "C:evil.pdf"],
  ["leading dots (hidden file, parent)", "..htaccess"],
  ["trailing dots and spaces (Windows)", "evil.pdf. . ."],
  ["shell and URL metacharacters", "a;$(id)`id`|&#?*<>\"'.pdf"],
  ["S3 POST policy placeholder", "${filename}"],
  ["200 CJK characters (600 UTF-8 bytes)", `${"文".repeat(196)}.pdf`],
  ["100 emoji (200 UTF-16 units)", `${"😀".repeat(98)}.pdf`],
];

for (const backendName of BACKENDS) {
  describe(`keys and paths on ${backendName}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(backendName, { maxPendingUploadsPerPrincipal: 1000 });
    });
    afterAll(() => h?.close());

    const issue = (filename: string) =>
      h.request("/upload-url", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ fieldId: FIELDS.file, filename, contentType: "application/pdf", size: PDF_BYTES.length }),
      });

    it.each(REFUSED_NAMES)("refuses a file name that is a path or hides characters: %s → 400", async (_name, filename) => {
      const before = await h.backend.list();
      const error = await errorOf(await issue(filename), 400);
      expect(error.code).toBe("invalid_request");
      expect(await h.backend.list()).toEqual(before);
    });

    it("turns every encoded or look-alike separator into one harmless key segment, stored exactly there", async () => {
      for (const [label, filename] of SANITISED_NAMES) {
        const response = await issue(filename);
        expect(response.status, `${label}: ${await response.clone().text()}`).toBe(201);
        const target = (await response.json()) as UploadUrlResponse;
        expect(target.key, label).toMatch(TEMP_KEY);
        const segment = target.key.slice(target.key.lastIndexOf("/") + 1);
        // Nothing that a decoder, a normaliser or a shell could turn into a path.
        expect(segment, label).not.toMatch(/^\.|%|[/\\:*?"<>|]|[.\s]$/);
        expect(segment.normalize("NFKC"), label).not.toMatch(/[/\\]|^\.+$/);
        expect(segment, label).not.toMatch(/\p{Cs}|[\u2215\u2044]/u);
        expect(Buffer.byteLength(segment), label).toBeLessThanOrEqual(200);
        expect(segment.endsWith(".pdf") || !filename.endsWith(".pdf"), `${label} keeps its extension`).toBe(true);
        // The ASCII fallback of the download header cannot carry a separator either.
        expect(contentDisposition(segment).split(";")[1], label).not.toMatch(/[/\\]/);

        const before = new Set(await h.backend.list());
        const uploaded = await h.upload(target, PDF_BYTES);
        expect(uploaded.ok, `${label}: upload answered ${uploaded.status}`).toBe(true);
        const added = (await h.backend.list()).filter((key) => !before.has(key));
        expect(added, label).toEqual([target.key]);
        expect((await h.backend.storage.stat(target.key))?.size, label).toBe(PDF_BYTES.length);

        const saved = await h.save("alice", `rec-${SANITISED_NAMES.findIndex(([l]) => l === label)}`, FIELDS.file, target.key);
        expect(saved.key, label).toMatch(new RegExp(`^docs\\.file/rec-\\d+/[0-9a-f-]{36}/${escape(segment)}$`));
        expect((await h.backend.storage.stat(saved.key!))?.size, label).toBe(PDF_BYTES.length);
      }
      if (h.backend.outside) {
        // The filesystem root's parent holds the root and nothing else.
        expect(await readdir(h.backend.outside)).toEqual(["store"]);
      }
    });

    it.each([
      ["a traversal", "../../../etc/passwd"],
      ["an absolute path", "/etc/passwd"],
      ["a temp key with a dot-dot segment", "async-temp/2026/01/01/../../../../etc/passwd"],
      ["a percent-encoded traversal", "async-temp%2F..%2F..%2Fetc%2Fpasswd"],
      ["a backslash path", "..\\..\\boot.ini"],
      ["a NUL byte", "async-temp/x\u0000/../../etc/passwd"],
      ["a URL", "https://evil.example/x.pdf"],
      ["a 100 kB string", "a/".repeat(50_000)],
    ])("refuses %s submitted as the form value, without touching storage", async (_label, value) => {
      const recording = recordingStorage(h.backend.storage);
      const field = h.uploads.registry.get(FIELDS.file)!;
      const original = field.storage;
      Object.assign(field, { storage: recording.storage });
      try {
        await refused(h.save("alice", "rec-value", FIELDS.file, value));
      } finally {
        Object.assign(field, { storage: original });
      }
      expect(recording.keys).toEqual([]);
    });

    it("refuses a key that differs from a real one only by case or Unicode normalisation", async () => {
      const key = await h.uploaded(FIELDS.file, PDF_BYTES, { filename: "Résumé.pdf", contentType: "application/pdf" });
      await refused(h.save("alice", "rec-case", FIELDS.file, key.toUpperCase()));
      await refused(h.save("alice", "rec-case", FIELDS.file, key.normalize("NFD")));
      expect((await h.rowOf(key))?.status).toBe("pending");
    });

    it("never copies outside the app's key space when the app passes on a hostile record id", async () => {
      const key = await h.uploaded(FIELDS.file, PDF_BYTES);
      const before = await h.backend.list();
      for (const instanceId of ["../../etc", "..", "a/../../b", "/abs"]) {
        await expect(h.save("alice", instanceId, FIELDS.file, key)).rejects.toThrow(/uploadTo returned/);
      }
      expect(await h.backend.list()).toEqual(before);
      expect((await h.rowOf(key))?.status).toBe("pending");
    });
  });
}

function escape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
