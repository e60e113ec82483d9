import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { filesystemStorage, type FilesystemStorage } from "../../../server/storage/filesystem";
import { listFiles } from "../../helpers/files";

/**
 * The filesystem driver's `deleteMany`, which cleanup deletes each batch's objects with: every key's
 * file goes, each emptied directory once, and a key it could not delete is reported (its row stays).
 */
describe("filesystem deleteMany", () => {
  let outside: string;
  let root: string;
  let disk: FilesystemStorage;
  beforeEach(async () => {
    outside = await mkdtemp(join(tmpdir(), "async-uploads-delete-many-"));
    root = join(outside, "store");
    disk = filesystemStorage({ root });
  });
  afterEach(() => rm(outside, { recursive: true, force: true }));

  const put = (key: string) => disk.write(key, [new Uint8Array(3)], { size: 3 });
  const files = async () => (await listFiles(outside)).map((path) => relative(outside, path)).sort();
  const dirsUnder = async (dir: string) => (await readdir(join(root, dir), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();

  it("deletes every file and the directories it emptied, and keeps directories still holding a file", async () => {
    const day = (n: number) => `async-temp/2025/01/0${n}`;
    const doomed = Array.from({ length: 30 }, (_, i) => `${day(1 + (i % 3))}/${crypto.randomUUID()}/stale-${i}.bin`);
    for (const key of doomed) await put(key);
    await put(`${day(2)}/kept/keep.bin`);
    await put("top.bin");

    expect(await disk.deleteMany!([...doomed, "top.bin", `${day(9)}/absent/never.bin`])).toEqual([]);

    expect(await files()).toEqual([`store/${day(2)}/kept/keep.bin`]);
    // Days 1 and 3 emptied and removed; day 2 keeps the one directory with a file; the root stays.
    expect(await dirsUnder("async-temp/2025/01")).toEqual(["02"]);
    expect(await dirsUnder(day(2))).toEqual(["kept"]);
    expect(await readdir(outside)).toEqual(["store"]);
  });

  it("reports each key it could not delete, with the reason, and deletes the others", async () => {
    const plain = ["a/1/x.bin", "a/2/y.bin"];
    for (const key of plain) await put(key);
    // A directory where the key's file would be: unlink refuses it (EISDIR), a real disk failure.
    await put("b/dir.bin/inside.bin");

    const failures = await disk.deleteMany!([plain[0]!, "b/dir.bin", "../outside.bin", plain[1]!]);

    // In any order: the unlinks run side by side.
    const reasons = new Map(failures.map((failure) => [failure.key, failure.reason]));
    expect([...reasons.keys()].sort()).toEqual(["../outside.bin", "b/dir.bin"]);
    expect(reasons.get("b/dir.bin")).toMatch(/^\[filesystem\] deleteMany failed \("b\/dir\.bin"\): EISDIR/);
    expect(reasons.get("../outside.bin")).toMatch(/^\[filesystem\] refused key "\.\.\/outside\.bin"/);
    expect(await files()).toEqual(["store/b/dir.bin/inside.bin"]);
    expect(await dirsUnder("")).toEqual(["b"]);
  });

  it("removes a directory that several keys of the batch shared, or that held another key's directory", async () => {
    const shared = [...Array.from({ length: 20 }, (_, i) => `shared/dir/file-${i}.bin`), "shared/dir/sub/deep.bin"];
    for (const key of shared) await put(key);
    expect(await disk.deleteMany!(shared)).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it("deletes nothing for no keys", async () => {
    await put("a/b.bin");
    expect(await disk.deleteMany!([])).toEqual([]);
    expect(await files()).toEqual(["store/a/b.bin"]);
  });
});
