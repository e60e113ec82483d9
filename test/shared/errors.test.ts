import { describe, expect, it } from "vitest";
import { ERROR_STATUS, type ErrorCode } from "../../shared/errors";

describe("ERROR_STATUS", () => {
  // By status, as DESIGN.md's routes list them: clients branch on these.
  it.each<[number, ErrorCode[]]>([
    [400, ["invalid_request", "invalid_criteria"]],
    [401, ["unauthenticated"]],
    [403, ["forbidden", "invalid_token", "expired_token", "not_requester"]],
    [404, ["unknown_field", "not_found", "unknown_export"]],
    [409, ["already_uploaded", "not_uploaded", "not_ready", "not_retryable"]],
    [413, ["file_too_large"]],
    [415, ["type_not_allowed"]],
    [416, ["range_not_satisfiable"]],
    [422, ["invalid_upload"]],
    [429, ["too_many_uploads", "too_many_pending_bytes", "storage_quota_reached", "too_many_exports"]],
    [500, ["internal_error"]],
    [503, ["processing_unavailable", "live_unavailable"]],
  ])("answers %d for %j", (status, codes) => {
    for (const code of codes) expect(ERROR_STATUS[code], code).toBe(status);
  });

  it("has no other code, and the only 5xx are the internal error and the two 'not running' answers", () => {
    expect(Object.keys(ERROR_STATUS)).toHaveLength(25);
    const serverErrors = Object.entries(ERROR_STATUS).filter(([, status]) => status >= 500);
    expect(serverErrors).toEqual([
      ["internal_error", 500],
      ["processing_unavailable", 503],
      ["live_unavailable", 503],
    ]);
  });
});
