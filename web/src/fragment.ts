// Tokens from links in mails (`/reset-password#token=...`, `/verify-email#token=...`). The token
// travels in the fragment, which browsers never send to a server (so it stays out of access
// logs and Referer headers); the page reads it once and removes it from the address bar.

/** A token is base64url, as the server makes them (256 random bits); anything else is not. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,512}$/;

/** The `token` parameter of a fragment like `#token=abc` (or `token=abc&x=y`); null when the
 *  fragment has none or it cannot be a token. */
export function tokenFromFragment(hash: string): string | null {
  const text = hash.startsWith('#') ? hash.slice(1) : hash;
  if (text === '') return null;
  let token: string | null;
  try {
    token = new URLSearchParams(text).get('token');
  } catch {
    return null;
  }
  if (token === null) return null;
  token = token.trim();
  return TOKEN_SHAPE.test(token) ? token : null;
}

/** The address without its fragment: what the address bar shows once the token was read. */
export function withoutFragment(location: { pathname: string; search: string }): string {
  return location.pathname + location.search;
}

/** Reads the link's token from the current address and removes the fragment from the address
 *  bar and this history entry (so neither Back nor a bookmark keeps it). */
export function takeTokenFromAddress(): string | null {
  const token = tokenFromFragment(window.location.hash);
  if (window.location.hash !== '') window.history.replaceState(window.history.state, '', withoutFragment(window.location));
  return token;
}
