// The problem documents (RFC 9457) the API answers with, as one error type.

export interface FieldError {
  field: string;
  code: string;
}

/** An error answer of the API, or a failure to reach it (`network_error`). */
export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors: FieldError[];
  /** Seconds, from `Retry-After`, when the server said when to try again. */
  readonly retryAfterSecs: number | null;
  readonly requestId: string | null;

  constructor(init: {
    status: number;
    code: string;
    title?: string;
    errors?: FieldError[];
    retryAfterSecs?: number | null;
    requestId?: string | null;
  }) {
    super(init.title ?? init.code);
    this.name = 'ApiProblem';
    this.status = init.status;
    this.code = init.code;
    this.title = init.title ?? init.code;
    this.errors = init.errors ?? [];
    this.retryAfterSecs = init.retryAfterSecs ?? null;
    this.requestId = init.requestId ?? null;
  }

  /** The errors of one field (`address.city`, `amount`, ...). */
  fieldErrors(field: string): FieldError[] {
    return this.errors.filter((error) => error.field === field);
  }
}

export function isProblem(error: unknown, code?: string): error is ApiProblem {
  return error instanceof ApiProblem && (code === undefined || error.code === code);
}

/** Reads a problem document from a failed response (any shape is tolerated). */
export async function problemFrom(response: Response): Promise<ApiProblem> {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = await response.json();
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): the status alone must do.
  }
  const retryAfter = response.headers.get('retry-after');
  const retryAfterSecs = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
  const errors = Array.isArray(body.errors)
    ? body.errors.filter(
        (error): error is FieldError =>
          !!error && typeof error.field === 'string' && typeof error.code === 'string',
      )
    : [];
  return new ApiProblem({
    status: response.status,
    code: typeof body.code === 'string' ? body.code : `http_${response.status}`,
    title: typeof body.title === 'string' ? body.title : response.statusText,
    errors,
    retryAfterSecs,
    requestId: response.headers.get('x-request-id'),
  });
}
