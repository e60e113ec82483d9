import { describe, expect, it, vi } from "vitest";
import { applyValidity, type FieldRules, type FileState } from "../../client/async-file-input/validity";

/** What `applyValidity` hands to ElementInternals.setValidity. */
function validityOf(field: FieldRules, files: Partial<FileState>): unknown[] {
  const internals = { setValidity: vi.fn() };
  applyValidity(internals as unknown as ElementInternals, field, { keys: [], busy: false, failed: false, ...files });
  expect(internals.setValidity).toHaveBeenCalledOnce();
  return internals.setValidity.mock.calls[0]!;
}

describe("applyValidity", () => {
  const optional = { required: false, multiple: false };
  const required = { required: true, multiple: false };

  it("clears validity when every rule holds", () => {
    expect(validityOf(optional, {})).toEqual([{}]);
    expect(validityOf(required, { keys: ["a/b.txt"] })).toEqual([{}]);
  });

  it("says which file is missing, for one file or several", () => {
    expect(validityOf(required, {})).toEqual([{ valueMissing: true }, "Please choose a file.", undefined]);
    expect(validityOf({ required: true, multiple: true }, {})).toEqual([{ valueMissing: true }, "Please add at least one file.", undefined]);
  });

  it("blocks while an upload runs, and a failed upload before anything else", () => {
    expect(validityOf(required, { busy: true })).toEqual([{ customError: true }, "Please wait until the upload has finished.", undefined]);
    expect(validityOf(required, { busy: true, failed: true })).toEqual([{ customError: true }, "An upload failed. Retry it or remove the file.", undefined]);
  });
});
