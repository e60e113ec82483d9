import { describe, expect, it } from "vitest";
import { ERROR_STATUS, type ErrorCode } from "../../shared/errors";

describe("ERROR_STATUS", () => {
  it("sends each code of the contract (DESIGN.md) with its status", () => {
    expect(ERROR_STATUS).toEqual({
      invalid_request: 400,
      unauthenticated: 401,
      forbidden: 403,
      invalid_token: 403,
      expired_token: 403,
      unknown_field: 404,
      not_found: 404,
      already_uploaded: 409,
      file_too_large: 413,
      type_not_allowed: 415,
      too_many_uploads: 429,
      invalid_upload: 422,
      internal_error: 500,
    } satisfies Record<ErrorCode, number>);
  });

  it("answers a client's mistake with a 4xx and only an internal error with a 5xx", () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      const expected = code === "internal_error" ? 5 : 4;
      expect(Math.floor(status / 100), code).toBe(expected);
    }
  });
});
