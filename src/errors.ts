// One error type for everything the API answers with; one table from code to status.

export const ERROR_STATUS = {
  validation_failed: 400,
  malformed_json: 400,
  idempotency_key_missing: 400,
  unauthorized: 401,
  forbidden: 403,
  not_an_approver: 403,
  self_approval: 403,
  not_found: 404,
  already_decided: 409,
  claim_conflict: 409,
  invalid_state: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  // The request is well-formed but asks for something the trust boundary refuses.
  unknown_approver: 422,
  agent_id_conflict: 422,
  timeout_not_allowed: 422,
  channel_not_allowed: 422,
  invalid_number: 422,
  // A NUL character (\u0000), which Postgres text and jsonb cannot hold.
  invalid_text: 422,
  // JSON nested past the limit (64 levels).
  too_deep: 422,
  conflict: 409,
  // A signed Slack request seen before, inside its 5-minute window.
  request_replayed: 409,
  rate_limited: 429,
  internal_error: 500,
  dependency_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }

  toJSON() {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}
