import { describe, expect, it } from "vitest";
import { formatBytes } from "../../shared/format-bytes";

describe("formatBytes", () => {
  it.each([
    [0, "0 bytes"],
    [312, "312 bytes"],
    [1023, "1023 bytes"],
    [1024, "1 KiB"],
    [1536, "1.5 KiB"],
    [50 * 1024 * 1024, "50 MiB"],
    [1.25 * 1024 ** 3, "1.3 GiB"],
    [3 * 1024 ** 4, "3 TiB"],
    // Past the largest unit the number grows instead.
    [2048 * 1024 ** 4, "2048 TiB"],
  ])("%d → %j", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
