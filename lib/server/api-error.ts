/**
 * {@link ApiError}: a failed request as the server answers it, in the
 * OpenAI error shape `{ error: { message, type, param, code } }`, and the
 * mapping of the library's {@link AmuletError} codes to HTTP statuses.
 *
 * @packageDocumentation
 */
import { AmuletError } from '../errors';

/** The `type` of an error body, as OpenAI-compatible clients read it. */
export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error';

/** The JSON body of an error response. */
export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

/** A request the server refuses or fails, with its HTTP status and any headers it needs (`Allow`, `Retry-After`). */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, details: {
    type?: ApiErrorType; param?: string | null; code?: string | null; headers?: Record<string, string>;
  } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = details.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = details.param ?? null;
    this.code = details.code ?? null;
    this.headers = details.headers ?? {};
  }

  /** The response body. */
  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 about one field of the request. */
export function invalidField(param: string, message: string): ApiError {
  return new ApiError(400, message, { param, code: 'invalid_value' });
}

/**
 * Runs a library check on one field: an `ERR_INVALID_OPTION` it throws
 * becomes a 400 naming the field, with the library's message.
 */
export function fieldCheck<T>(param: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof AmuletError && error.code === 'ERR_INVALID_OPTION') throw invalidField(param, error.message);
    throw error;
  }
}

/**
 * What a failure becomes on the wire. The library's messages name the option
 * and the value and carry no paths or stacks, so they are passed on; anything
 * else is an internal error whose details stay in the server.
 */
export function apiErrorOf(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (!(error instanceof AmuletError)) return new ApiError(500, 'internal server error', { code: 'internal_error' });
  switch (error.code) {
    case 'ERR_INVALID_OPTION':
      return new ApiError(400, error.message, { code: 'invalid_value' });
    case 'ERR_TEMPLATE':
      return new ApiError(400, `the model's chat template cannot render these messages: ${error.message}`,
        { param: 'messages', code: 'invalid_messages' });
    case 'ERR_CONTEXT_FULL':
      return new ApiError(400, error.message, { param: 'messages', code: 'context_length_exceeded' });
    case 'ERR_DISPOSED':
    case 'ERR_ABORTED':
      return new ApiError(503, 'the server is shutting down', { code: 'shutting_down' });
    default:
      return new ApiError(500, `${error.code}: ${error.message}`, { code: 'internal_error' });
  }
}
