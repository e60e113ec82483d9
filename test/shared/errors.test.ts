import { describe, expect, it } from "vitest";
import { ERROR_STATUS, type ErrorCode } from "../../shared/errors";

describe("ERROR_STATUS", () => {
  // By status, as DESIGN.md's routes list them: clients branch on these.
  it.each<[number, ErrorCode[]]>([
    [400, ["invalid_request"]],
    [401, ["unauthenticated"]],
    [403, ["forbidden", "invalid_token", "expired_token"]],
    [404, ["unknown_field", "not_found"]],
    [409, ["already_uploaded", "not_uploaded"]],
    [413, ["file_too_large"]],
    [415, ["type_not_allowed"]],
    [422, ["invalid_upload"]],
    [429, ["too_many_uploads", "too_many_pending_bytes", "storage_quota_reached"]],
    [500, ["internal_error"]],
    [503, ["processing_unavailable"]],
  ])("answers %d for %j", (status, codes) => {
    for (const code of codes) expect(ERROR_STATUS[code], code).toBe(status);
  });

  it("has no other code, and the only 5xx are the internal error and processing not started", () => {
    expect(Object.keys(ERROR_STATUS)).toHaveLength(17);
    const serverErrors = Object.entries(ERROR_STATUS).filter(([, status]) => status >= 500);
    expect(serverErrors).toEqual([
      ["internal_error", 500],
      ["processing_unavailable", 503],
    ]);
  });
});
