// The one way the app talks to the server: JSON over fetch, the bearer token from memory, one
// silent refresh and retry on an expired token, problem documents turned into `ApiProblem`.

import type { TokenManager } from '../auth/tokens';
import { ApiProblem, problemFrom } from './problem';

export interface CallOptions {
  body?: unknown;
  /** Send the bearer token (default true). */
  auth?: boolean;
  idempotencyKey?: string;
  query?: Record<string, string | number | undefined | null>;
}

export interface ClientHooks {
  /** Any call answered 403 `account_quarantined`. */
  onQuarantined: () => void;
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export class ApiClient {
  readonly #tokens: TokenManager;
  readonly #hooks: ClientHooks;
  readonly #fetch: Fetch;

  constructor(tokens: TokenManager, hooks: ClientHooks, fetchImpl: Fetch) {
    this.#tokens = tokens;
    this.#hooks = hooks;
    this.#fetch = fetchImpl;
  }

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('GET', path, options);
  }

  post<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('POST', path, options);
  }

  put<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('PUT', path, options);
  }

  patch<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('PATCH', path, options);
  }

  delete<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('DELETE', path, options);
  }

  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    const url = withQuery(path, options.query);
    for (let attempt = 0; ; attempt += 1) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
      if (auth) headers.authorization = `Bearer ${await this.#token()}`;
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method,
          headers,
          body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
          credentials: 'same-origin',
          cache: 'no-store',
        });
      } catch {
        throw new ApiProblem({ status: 0, code: 'network_error' });
      }
      if (response.ok) {
        const text = response.status === 204 ? '' : await response.text();
        return (text === '' ? undefined : JSON.parse(text)) as T;
      }
      const problem = await problemFrom(response);
      // An access token that expired or was refused: renew once and send again. (A transfer
      // keeps its Idempotency-Key, so even a repeated send never pays twice.)
      if (auth && attempt === 0 && problem.status === 401 && problem.code === 'invalid_token') {
        if ((await this.#tokens.refresh()) === 'refreshed') continue;
      }
      if (problem.code === 'account_quarantined') this.#hooks.onQuarantined();
      throw problem;
    }
  }

  async #token(): Promise<string> {
    const current = this.#tokens.accessToken;
    if (current !== null) return current;
    const outcome = await this.#tokens.refresh();
    const renewed = this.#tokens.accessToken;
    if (renewed !== null) return renewed;
    throw outcome === 'unavailable'
      ? new ApiProblem({ status: 0, code: 'network_error' })
      : new ApiProblem({ status: 401, code: 'invalid_token' });
  }
}

function withQuery(path: string, query: CallOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}
