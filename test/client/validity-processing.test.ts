import { describe, expect, it, vi } from "vitest";
import type { FileCheck } from "../../client/async-file-input/file-row";
import { applyValidity, type FileState } from "../../client/async-file-input/validity";

/** What `applyValidity` hands to ElementInternals.setValidity for a field whose file `check` describes. */
function validityOf(check: FileCheck | undefined, files: Partial<FileState> = {}): unknown[] {
  const internals = { setValidity: vi.fn() };
  const unchecked = check && { name: "report.pdf", check };
  applyValidity(internals as unknown as ElementInternals, { required: true, multiple: false }, { keys: ["k"], busy: false, failed: false, unchecked, ...files });
  return internals.setValidity.mock.calls[0]!;
}

const check = (state: FileCheck["state"], reason: string | null = null): FileCheck => ({ state, label: null, reason });

describe("validity of a field whose files the server checks", () => {
  it("is invalid while a file is being checked, with its name", () => {
    for (const state of ["uploaded", "queued", "running"] as const) {
      expect(validityOf(check(state))).toEqual([{ customError: true }, "report.pdf is still being checked.", undefined]);
    }
  });

  it("gives a rejected file's reason, or says it could not be checked", () => {
    expect(validityOf(check("rejected", "It contains a virus."))).toEqual([
      { customError: true },
      "report.pdf was rejected: It contains a virus. Remove it or choose another file.",
      undefined,
    ]);
    expect(validityOf(check("rejected"))[1]).toBe("report.pdf was rejected. Remove it or choose another file.");
    expect(validityOf(check("failed"))[1]).toBe("report.pdf could not be checked. Retry or remove the file.");
  });

  it("is valid once every file passed (unchecked is then absent), and a running upload still comes first", () => {
    expect(validityOf(undefined)).toEqual([{}]);
    expect(validityOf(check("running"), { busy: true })[1]).toBe("Please wait until the upload has finished.");
  });
});
