import { describe, expect, it } from "vitest";
import { FieldRegistry } from "../../../server/registry";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { plannedSteps } from "../../../server/processing/steps";

const registry = () => new FieldRegistry(filesystemStorage({ root: "/tmp/never-written" }));
const run = async () => undefined;

describe("processing steps at register time", () => {
  it("fills in the defaults and plans verify first", () => {
    const field = registry().register("docs.a", { maxSize: 10, processing: [{ name: "virus-scan", run }, { name: "thumbnail", label: "Making a preview", run, timeoutSeconds: 5, retryLimit: 0 }] });
    expect(field.processing.map(({ name, label, timeoutSeconds, retryLimit }) => ({ name, label, timeoutSeconds, retryLimit }))).toEqual([
      { name: "virus-scan", label: "Virus scan", timeoutSeconds: 60, retryLimit: 2 },
      { name: "thumbnail", label: "Making a preview", timeoutSeconds: 5, retryLimit: 0 },
    ]);
    expect(plannedSteps(field.processing)).toEqual([
      { name: "verify", label: "Checking" },
      { name: "virus-scan", label: "Virus scan" },
      { name: "thumbnail", label: "Making a preview" },
    ]);
  });

  it("a field without steps has none planned, and the registry says no processing is needed", () => {
    const fields = registry();
    const field = fields.register("docs.a", { maxSize: 10 });
    expect(field.processing).toEqual([]);
    expect(plannedSteps(field.processing)).toEqual([]);
    expect(fields.hasProcessing()).toBe(false);
    fields.register("docs.b", { maxSize: 10, processing: [{ name: "scan", run }] });
    expect(fields.hasProcessing()).toBe(true);
  });

  it.each<[string, unknown, RegExp]>([
    ["not an array", { name: "scan", run }, /processing must be an array/],
    ["a step that is not an object", ["scan"], /processing\[0\] must be an object/],
    ["an upper-case name", [{ name: "Scan", run }], /processing\[0\]\.name must be 1–41 lowercase/],
    ["a name too long", [{ name: `a${"b".repeat(41)}`, run }], /processing\[0\]\.name/],
    ["the built-in name", [{ name: "verify", run }], /"verify" is the built-in first step/],
    ["a name used twice", [{ name: "scan", run }, { name: "scan", run }], /processing\[1\]: the step name "scan" is used twice/],
    ["no run function", [{ name: "scan" }], /\("scan"\): run must be a function/],
    ["an empty label", [{ name: "scan", run, label: " " }], /label must be a non-empty string/],
    ["a zero timeout", [{ name: "scan", run, timeoutSeconds: 0 }], /timeoutSeconds must be a number of seconds above 0/],
    ["an endless timeout", [{ name: "scan", run, timeoutSeconds: Infinity }], /timeoutSeconds/],
    ["a fractional retry limit", [{ name: "scan", run, retryLimit: 1.5 }], /retryLimit must be a whole number from 0 to 20/],
    ["a negative retry limit", [{ name: "scan", run, retryLimit: -1 }], /retryLimit/],
  ])("refuses %s, naming the field", (_what, processing, message) => {
    expect(() => registry().register("docs.a", { maxSize: 10, processing: processing as never })).toThrow(message);
    expect(() => registry().register("docs.a", { maxSize: 10, processing: processing as never })).toThrow(/^\[async-uploads\] field "docs\.a": /);
  });
});
