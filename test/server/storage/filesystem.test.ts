import { randomFillSync } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { markAsUntransferable } from "node:worker_threads";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentDisposition } from "../../../server/storage/content-disposition";
import { filesystemChunks } from "../../../server/storage/filesystem-chunks";
import { FilesystemError, filesystemStorage, isFilesystemStorage, type FilesystemStorage } from "../../../server/storage/filesystem";
import { releaseChunksOnceWritten } from "../../../server/storage/filesystem-write";
import type { UrlContext } from "../../../server/storage/types";
import { signToken, verifyToken } from "../../../server/tokens";
import { bytes, describeStorageContract } from "./contract";

const secret = "test-secret";

/** What the app does: sign the claims into a URL of its `fs/` routes. */
const context: UrlContext = {
  localUrl: (claims) => `http://app.test/async-uploads/fs/${claims.purpose}/${signToken({ ...claims, fieldId: "test.field" }, secret)}`,
};
const tokenOf = (url: string) => url.split("/").pop() ?? "";

describeStorageContract("filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "fs-contract-"));
  const driver = filesystemStorage({ root });
  return {
    driver,
    context,
    honoursContentType: false,
    // What `PUT fs/upload/{token}` does: check the token, then stream the body into the driver.
    async upload(target, content, contentType) {
      const claims = verifyToken(tokenOf(target.url), secret, "upload");
      expect(claims).toMatchObject({ size: content.length, contentType });
      expect(target).toMatchObject({ method: "PUT", headers: { "Content-Type": contentType } });
      await driver.write(claims.key, new Blob([content]).stream(), { size: claims.size });
    },
    // What `GET fs/download/{token}` does.
    async download(url) {
      const claims = verifyToken(tokenOf(url), secret, "download");
      const file = await driver.read(claims.key);
      if (!file) throw new Error("not found");
      const content = new Uint8Array(await new Response(file.body).arrayBuffer());
      expect(content.length).toBe(file.size);
      return { bytes: content, contentDisposition: contentDisposition(claims.filename), contentType: null };
    },
    teardown: () => rm(root, { recursive: true, force: true }),
  };
});

describe("filesystem driver", () => {
  let root: string;
  let storage: FilesystemStorage;
  beforeAll(async () => {
    root = join(await mkdtemp(join(tmpdir(), "fs-extras-")), "root");
    storage = filesystemStorage({ root });
  });
  afterAll(() => rm(dirname(root), { recursive: true, force: true }));

  /** Every file below the root, relative paths, so that a leftover partial file shows up. */
  async function files(): Promise<string[]> {
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1)).sort();
  }
  async function kindOf(promise: Promise<unknown>): Promise<string | undefined> {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(FilesystemError);
    return (error as FilesystemError).kind;
  }

  it("refuses a body larger than declared while it streams, and leaves nothing", async () => {
    let chunksPulled = 0;
    let stopped = false;
    // 1 MiB for a 40 kB upload: a limit checked only at the end would read it all.
    async function* endless() {
      try {
        for (let i = 0; i < 64; i++) {
          chunksPulled++;
          yield bytes(16 * 1024);
        }
      } finally {
        stopped = true;
      }
    }
    expect(await kindOf(storage.write("big/file.bin", endless(), { size: 40_000 }))).toBe("too_large");
    expect(chunksPulled).toBeLessThanOrEqual(4);
    expect(stopped).toBe(true);
    expect(await files()).toEqual([]);
    expect(await stat(join(root, "big")).catch(() => null)).toBeNull();
  });

  it("refuses a body shorter than declared, and leaves nothing", async () => {
    const error = await storage.write("short/file.bin", new Blob([bytes(99)]).stream(), { size: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FilesystemError);
    expect(error).toMatchObject({ kind: "too_short", message: expect.stringContaining("shorter than declared") });
    expect(await files()).toEqual([]);
  });

  it("never overwrites: a second write to the key is already_exists and the first file stays", async () => {
    const first = bytes(100);
    await storage.write("once/file.bin", new Blob([first]).stream(), { size: 100 });
    expect(await kindOf(storage.write("once/file.bin", new Blob([bytes(100)]).stream(), { size: 100 }))).toBe("already_exists");
    expect(new Uint8Array(await readFile(join(root, "once/file.bin")))).toEqual(first);
    expect(await files()).toEqual(["once/file.bin"]);
    await storage.delete("once/file.bin");
  });

  it("lets exactly one of two concurrent writes to the same key win", async () => {
    const slow = async function* (content: Uint8Array) {
      for (let i = 0; i < content.length; i += 1000) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield content.subarray(i, i + 1000);
      }
    };
    const [a, b] = [bytes(5000), bytes(5000)];
    const results = await Promise.allSettled([
      storage.write("race/file.bin", slow(a), { size: 5000 }),
      storage.write("race/file.bin", slow(b), { size: 5000 }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(["fulfilled", "rejected"]);
    const loser = results.find((result) => result.status === "rejected");
    expect((loser as PromiseRejectedResult).reason).toMatchObject({ kind: "already_exists" });
    const winner = results[0]?.status === "fulfilled" ? a : b;
    expect(new Uint8Array(await readFile(join(root, "race/file.bin")))).toEqual(winner);
    expect(await files()).toEqual(["race/file.bin"]);
    await storage.delete("race/file.bin");
  });

  it("frees the memory of the chunks of a body marked as owned once they are written, and only of whole chunks", async () => {
    // What Node's HTTP parser hands a request body: each chunk a fresh buffer of its own (Buffer.alloc, not the pool).
    const whole = [randomFillSync(Buffer.alloc(70_000)), randomFillSync(Buffer.alloc(30_000))];
    // A slice of a larger buffer shares its memory with bytes that are not the body's: left alone.
    const larger = randomFillSync(Buffer.alloc(50_000));
    const slice = larger.subarray(10_000, 40_000);
    // A buffer that cannot be detached (Node marks some untransferable) is written and left to the GC.
    const pinned = randomFillSync(Buffer.alloc(5_000));
    markAsUntransferable(pinned.buffer);
    const expected = Buffer.concat([...whole, slice, pinned]);
    await storage.write("owned/file.bin", releaseChunksOnceWritten(Readable.from([...whole, slice, pinned])), { size: expected.length });
    expect(await readFile(join(root, "owned/file.bin"))).toEqual(expected);
    expect(whole.map((chunk) => chunk.buffer.byteLength)).toEqual([0, 0]);
    expect(larger.buffer.byteLength).toBe(50_000);
    expect(slice).toEqual(expected.subarray(100_000, 130_000));
    expect(pinned).toEqual(expected.subarray(130_000));
    // Not marked (any other body, e.g. an app's own buffers): nothing is freed.
    const kept = [randomFillSync(Buffer.alloc(20_000))];
    await storage.write("owned/kept.bin", Readable.from(kept), { size: 20_000 });
    expect(kept[0]!.buffer.byteLength).toBe(20_000);
    expect(await readFile(join(root, "owned/kept.bin"))).toEqual(kept[0]);
    // A refused body frees nothing it did not write, and leaves no file.
    const refused = [randomFillSync(Buffer.alloc(10_000)), randomFillSync(Buffer.alloc(10_000))];
    expect(await kindOf(storage.write("owned/refused.bin", releaseChunksOnceWritten(Readable.from(refused)), { size: 15_000 }))).toBe("too_large");
    expect(refused[1]!.buffer.byteLength).toBe(10_000);
    await storage.delete("owned/file.bin");
    await storage.delete("owned/kept.bin");
    expect(await files()).toEqual([]);
  });

  it("leaves nothing when the body stream errors midway (a client abort)", async () => {
    const aborted = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes(3000));
        setTimeout(() => controller.error(new Error("client went away")), 10);
      },
    });
    await expect(storage.write("abort/file.bin", aborted, { size: 10_000 })).rejects.toThrow(/^\[filesystem\] write failed .*client went away/);
    async function* failing() {
      yield bytes(1000);
      throw new Error("socket hang up");
    }
    await expect(storage.write("abort/file.bin", failing(), { size: 10_000 })).rejects.toThrow("socket hang up");
    expect(await files()).toEqual([]);
  });

  it("copies with a hard link (same bytes, no temporary file left) and prunes empty directories on delete", async () => {
    await storage.write("temp/2024/01/02/id/file.bin", new Blob([bytes(10)]).stream(), { size: 10 });
    await storage.copy("temp/2024/01/02/id/file.bin", "final/doc/file.bin");
    expect(await files()).toEqual(["final/doc/file.bin", "temp/2024/01/02/id/file.bin"]);
    const [source, target] = await Promise.all([stat(join(root, "temp/2024/01/02/id/file.bin")), stat(join(root, "final/doc/file.bin"))]);
    expect(target.ino).toBe(source.ino);
    await storage.delete("temp/2024/01/02/id/file.bin");
    expect(await readdir(root)).toEqual(["final"]);
    await storage.delete("final/doc/file.bin");
    expect(await readdir(root)).toEqual([]);
  });

  it("serves a file through read, and null for a missing key or a directory", async () => {
    const content = bytes(2048);
    await storage.write("read/file.bin", new Blob([content]).stream(), { size: 2048 });
    const file = await storage.read("read/file.bin");
    expect(file?.size).toBe(2048);
    expect(new Uint8Array(await new Response(file?.body).arrayBuffer())).toEqual(content);
    expect(await storage.read("read/missing.bin")).toBeNull();
    expect(await storage.read("read")).toBeNull();
    expect(await storage.stat("read")).toBeNull();
    expect(await storage.stat("read/file.bin/below")).toBeNull();
    await storage.delete("read/file.bin");
  });

  it("signs upload and download claims through the app's context", async () => {
    const expiresAt = new Date(Date.now() + 60_000);
    const target = await storage.createUploadTarget({ key: "k/a.pdf", contentType: "application/pdf", size: 5, expiresAt }, context);
    expect(verifyToken(tokenOf(target.url), secret, "upload")).toEqual({
      purpose: "upload", key: "k/a.pdf", size: 5, contentType: "application/pdf", expiresAt: expiresAt.getTime(), fieldId: "test.field",
    });
    const url = await storage.createDownloadUrl({ key: "k/a.pdf", filename: "résumé.pdf", expiresAt }, context);
    expect(verifyToken(tokenOf(url), secret, "download")).toEqual({
      purpose: "download", key: "k/a.pdf", filename: "résumé.pdf", expiresAt: expiresAt.getTime(), fieldId: "test.field",
    });
  });

  it.each(["../x", "a/../../x", "/etc/passwd", "a\\b", "a\0b", "", "a//b", "./a", "C:/x"])("refuses the key %j in every method", async (key) => {
    // A file just outside the root, which a traversal would reach.
    await writeFile(join(dirname(root), "x"), "outside");
    const expiresAt = new Date(Date.now() + 60_000);
    const refused = /^\[filesystem\] refused key/;
    await expect(storage.write(key, new Blob([bytes(1)]).stream(), { size: 1 })).rejects.toThrow(refused);
    await expect(storage.read(key)).rejects.toThrow(refused);
    await expect(storage.stat(key)).rejects.toThrow(refused);
    await expect(storage.readFirstBytes(key, 4)).rejects.toThrow(refused);
    await expect(storage.copy(key, "ok/target")).rejects.toThrow(refused);
    await expect(storage.copy("ok/source", key)).rejects.toThrow(refused);
    await expect(storage.delete(key)).rejects.toThrow(refused);
    await expect(storage.createUploadTarget({ key, contentType: "text/plain", size: 1, expiresAt }, context)).rejects.toThrow(refused);
    await expect(storage.createDownloadUrl({ key, filename: "x", expiresAt }, context)).rejects.toThrow(refused);
    expect(await readFile(join(dirname(root), "x"), "utf8")).toBe("outside");
    expect(await files()).toEqual([]);
  });

  it("is told apart from other drivers by what its routes call, not by its name", () => {
    expect(isFilesystemStorage(storage)).toBe(true);
    // A driver the app wraps keeps its methods on the prototype chain.
    expect(isFilesystemStorage(Object.create(storage) as FilesystemStorage)).toBe(true);
    const { write: _write, ...withoutWrite } = storage;
    expect(isFilesystemStorage({ ...withoutWrite, name: "filesystem" } as unknown as FilesystemStorage)).toBe(false);
    expect(isFilesystemStorage(undefined)).toBe(false);
  });

  it("refuses a part whose upload was completed or aborted while it was written (gone), and keeps nothing", async () => {
    const key = "chunks/id/file.bin";
    // The driver's own pieces, except that `abort` runs between the part's write and its rename.
    const chunks = filesystemChunks({
      pathOf: (k) => join(root, k),
      write: async (k, body, options) => {
        await storage.write(k, body, options);
        await storage.multipart.abort(key, "upload-id");
      },
      pruneEmptyParents: async () => {},
    });
    const error = await chunks.writePart(key, 1, [bytes(10)], 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FilesystemError);
    expect(error).toMatchObject({ kind: "gone" });
    expect(await storage.multipart.listParts(key, "upload-id")).toEqual([]);
    expect(await files()).toEqual([]);
  });
});
