// Dates, devices and security events in words.

export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** "Chrome on Linux" from a User-Agent string (enough to recognise one's own devices). */
export function describeDevice(userAgent: string): string {
  if (userAgent.trim() === '') return 'Unknown device';
  const browser =
    /Edg\//.test(userAgent) ? 'Edge'
    : /Firefox\//.test(userAgent) ? 'Firefox'
    : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome'
    : /Safari\//.test(userAgent) ? 'Safari'
    : /curl\//.test(userAgent) ? 'curl'
    : 'Browser';
  const system =
    /Android/.test(userAgent) ? 'Android'
    : /iPhone|iPad/.test(userAgent) ? 'iOS'
    : /Windows/.test(userAgent) ? 'Windows'
    : /Mac OS X|Macintosh/.test(userAgent) ? 'macOS'
    : /Linux/.test(userAgent) ? 'Linux'
    : null;
  return system ? `${browser} on ${system}` : browser;
}

export const SECURITY_EVENT_TEXT: Readonly<Record<string, string>> = {
  registered: 'Account created',
  login: 'Signed in',
  login_failed: 'Failed sign-in attempt',
  logout: 'Signed out',
  session_revoked: 'A session was signed out',
  refresh_token_reused: 'A session was ended because its sign-in was reused',
  mfa_totp_enabled: 'Authenticator app added',
  mfa_totp_removed: 'Authenticator app removed',
  mfa_passkey_added: 'Passkey added',
  mfa_passkey_removed: 'Passkey removed',
  recovery_codes_regenerated: 'New recovery codes created',
  mfa_failed: 'Wrong second-factor code or passkey',
  recovery_code_used: 'Recovery code used',
  step_up: 'Identity confirmed with a second factor',
  new_device: 'Sign-in from a new device',
  impossible_travel: 'Sign-in from two distant places in too short a time',
  session_hijack_suspected: 'Session used from another browser',
  account_quarantined: 'Account put on hold',
  quarantine_lifted: 'Hold lifted',
  data_integrity_error: 'Stored data failed a safety check',
  profile_revealed: 'National id shown',
  profile_deleted: 'Personal details deleted',
  password_changed: 'Password changed',
  password_reset: 'Password reset with an emailed link',
  email_verified: 'Email address verified',
  email_change_requested: 'Email address change requested',
  email_changed: 'Email address changed',
  data_exported: 'Your data was downloaded',
  account_closed: 'Account closed',
};

export function describeEvent(kind: string): string {
  return SECURITY_EVENT_TEXT[kind] ?? kind.replace(/_/g, ' ');
}

/** A new random Idempotency-Key. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** The name of the data export's file, from the export's own time: `strongroom-data-2026-11-28.json`. */
export function exportFileName(exportedAt: string, now: Date = new Date()): string {
  const day = /^\d{4}-\d{2}-\d{2}/.exec(exportedAt)?.[0] ?? now.toISOString().slice(0, 10);
  return `strongroom-data-${day}.json`;
}
