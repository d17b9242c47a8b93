// The access token, held only in this module's memory (never localStorage, sessionStorage or
// a readable cookie), and its silent renewal through the HttpOnly refresh cookie.
//
// Refreshing rotates the cookie, and presenting a rotated cookie again revokes the whole
// session. So every refresh of every tab of this origin runs inside one cross-tab lock (the
// Web Locks API): the next tab to refresh sends the cookie the previous one received, and two
// tabs never present the same refresh token. Within a tab, concurrent callers share one
// refresh. Sign-in and sign-out are announced to the other tabs (BroadcastChannel).

import { problemFrom } from '../api/problem';

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
}

export type SignedOutReason =
  | 'signed_out'
  | 'refresh_token_reused'
  | 'invalid_refresh_token'
  | 'other_tab';

export type SessionEvent =
  | { type: 'signed-in' }
  | { type: 'signed-out'; reason: SignedOutReason; wasSignedIn: boolean };

/** What tabs tell each other. Never a token. */
export type TabMessage = { type: 'signed-in' } | { type: 'signed-out' };

export type RefreshOutcome = 'refreshed' | 'signed-out' | 'unavailable';

/** Everything the manager needs from the browser, injected so tests can drive it. */
export interface TokenEnvironment {
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  now: () => number;
  setTimeout: (task: () => void, delayMs: number) => number;
  clearTimeout: (handle: number) => void;
  /** Runs `task` while holding the origin-wide lock `name`. */
  withLock: <T>(name: string, task: () => Promise<T>) => Promise<T>;
  /** Tells the other tabs of this origin. */
  post: (message: TabMessage) => void;
}

export const REFRESH_LOCK_NAME = 'strongroom-refresh';
export const REFRESH_PATH = '/v1/auth/refresh';
export const LOGOUT_PATH = '/v1/auth/logout';
/** Renew this long before the access token expires (at most a fifth of its lifetime). */
export const REFRESH_MARGIN_MS = 60_000;
/** After a refresh that failed for a passing reason (network, 429, 5xx), try again this soon. */
export const REFRESH_RETRY_MS = 15_000;
/** Never schedule renewals closer together than this. */
const REFRESH_DELAY_MIN_MS = 1_000;

function isTokenResponse(value: unknown): value is TokenResponse {
  const body = value as Partial<TokenResponse> | null;
  return (
    !!body &&
    typeof body.access_token === 'string' &&
    body.access_token.length > 0 &&
    typeof body.expires_in === 'number'
  );
}

export class TokenManager {
  readonly #env: TokenEnvironment;
  #token: string | null = null;
  #expiresAtMs = 0;
  #timer: number | null = null;
  #inflight: Promise<RefreshOutcome> | null = null;
  readonly #listeners = new Set<(event: SessionEvent) => void>();

  constructor(env: TokenEnvironment) {
    this.#env = env;
  }

  /** The access token while it is valid; null when signed out or expired. */
  get accessToken(): string | null {
    if (this.#token === null || this.#env.now() >= this.#expiresAtMs) return null;
    return this.#token;
  }

  get signedIn(): boolean {
    return this.#token !== null;
  }

  subscribe(listener: (event: SessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tokens from a sign-in in this tab (password, second factor, passkey). */
  signedInWith(tokens: TokenResponse): void {
    this.#accept(tokens);
    this.#env.post({ type: 'signed-in' });
    this.#emit({ type: 'signed-in' });
  }

  /** Fresh tokens for the same session (a step-up). */
  replace(tokens: TokenResponse): void {
    this.#accept(tokens);
  }

  /** Renews the access token through the refresh cookie; one refresh at a time per origin. */
  refresh(): Promise<RefreshOutcome> {
    if (this.#inflight === null) {
      this.#inflight = this.#env
        .withLock(REFRESH_LOCK_NAME, () => this.#refreshHoldingLock())
        .finally(() => {
          this.#inflight = null;
        });
    }
    return this.#inflight;
  }

  /** Ends the session on the server and in every tab. */
  async signOut(): Promise<void> {
    const token = this.#token;
    this.#clear();
    try {
      await this.#env.withLock(REFRESH_LOCK_NAME, () =>
        this.#env.fetch(LOGOUT_PATH, {
          method: 'POST',
          headers: token ? { authorization: `Bearer ${token}` } : {},
          credentials: 'same-origin',
          cache: 'no-store',
        }),
      );
    } catch {
      // Offline: the cookie stays until it expires, but this tab holds nothing any more.
    }
    this.#env.post({ type: 'signed-out' });
    this.#emit({ type: 'signed-out', reason: 'signed_out', wasSignedIn: token !== null });
  }

  /** A message from another tab. */
  receive(message: TabMessage): void {
    if (message.type === 'signed-out' && this.#token !== null) {
      this.#clear();
      this.#emit({ type: 'signed-out', reason: 'other_tab', wasSignedIn: true });
    } else if (message.type === 'signed-in' && this.#token === null) {
      void this.refresh();
    }
  }

  async #refreshHoldingLock(): Promise<RefreshOutcome> {
    const wasSignedIn = this.#token !== null;
    let response: Response;
    try {
      response = await this.#env.fetch(REFRESH_PATH, {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      this.#retryLater();
      return 'unavailable';
    }
    if (response.ok) {
      let body: unknown = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      if (!isTokenResponse(body)) {
        this.#retryLater();
        return 'unavailable';
      }
      this.#accept(body);
      if (!wasSignedIn) this.#emit({ type: 'signed-in' });
      return 'refreshed';
    }
    if (response.status === 401 || response.status === 403) {
      // 401: no cookie, expired, revoked or reused; 403: refused as cross-site. Either way
      // this tab is signed out and must not keep trying with the same cookie.
      const problem = await problemFrom(response);
      const reason: SignedOutReason =
        problem.code === 'refresh_token_reused' ? 'refresh_token_reused' : 'invalid_refresh_token';
      this.#clear();
      if (wasSignedIn || reason === 'refresh_token_reused') this.#env.post({ type: 'signed-out' });
      this.#emit({ type: 'signed-out', reason, wasSignedIn });
      return 'signed-out';
    }
    this.#retryLater();
    return 'unavailable';
  }

  #accept(tokens: TokenResponse): void {
    const lifetimeMs = Math.max(0, tokens.expires_in) * 1000;
    this.#token = tokens.access_token;
    this.#expiresAtMs = this.#env.now() + lifetimeMs;
    this.#schedule(lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 5));
  }

  #retryLater(): void {
    if (this.#token !== null) this.#schedule(REFRESH_RETRY_MS);
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== null) this.#env.clearTimeout(this.#timer);
    this.#timer = this.#env.setTimeout(() => {
      this.#timer = null;
      void this.refresh();
    }, Math.max(REFRESH_DELAY_MIN_MS, delayMs));
  }

  #clear(): void {
    this.#token = null;
    this.#expiresAtMs = 0;
    if (this.#timer !== null) this.#env.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #emit(event: SessionEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
