/** Every error code the HTTP API can answer with, and the status it is sent with. */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_criteria: 400,
  unauthenticated: 401,
  forbidden: 403,
  invalid_token: 403,
  expired_token: 403,
  not_requester: 403,
  unknown_field: 404,
  not_found: 404,
  unknown_export: 404,
  already_uploaded: 409,
  not_uploaded: 409,
  not_ready: 409,
  not_retryable: 409,
  file_too_large: 413,
  type_not_allowed: 415,
  range_not_satisfiable: 416,
  too_many_uploads: 429,
  too_many_pending_bytes: 429,
  storage_quota_reached: 429,
  too_many_exports: 429,
  invalid_upload: 422,
  internal_error: 500,
  processing_unavailable: 503,
  live_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The body of every error response: `{"error": {"code", "message"}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
