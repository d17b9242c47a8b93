// Every problem code the API can answer on the web app's pages, as a sentence a person
// understands. The code itself is never shown (only the request id, for support).

import { ApiProblem, type FieldError } from './api/problem';

export const PROBLEM_MESSAGES: Readonly<Record<string, string>> = {
  // Requests the app built wrongly, or that the server refused as malformed.
  invalid_request: 'The request could not be understood. Check what you entered and try again.',
  unknown_field: 'The request contained something the server does not accept. Reload the page and try again.',
  validation_failed: 'Some of the values are not valid. Check the highlighted fields.',
  unsupported_media_type: 'The request was sent in a format the server does not accept. Reload the page and try again.',
  payload_too_large: 'What you entered is too long to send.',
  not_found: 'We could not find that. It may have been removed, or it is not yours.',
  method_not_allowed: 'That action is not available here.',
  forbidden: 'You are not allowed to do that.',
  request_timeout: 'The server took too long to answer. Try again in a moment.',
  internal_error: 'Something went wrong on our side. Try again; if it keeps happening, contact support.',
  service_unavailable: 'The service is busy right now. Try again in a moment.',
  network_error: 'We could not reach Strongroom. Check your connection and try again.',
  // Identity.
  weak_password:
    'This password is too short, too long, or too easy to guess. Use at least 12 characters that are not a common phrase or your own name or email.',
  invalid_credentials: 'The email or password is wrong.',
  invalid_code: 'That code is wrong, expired, or was already used. Wait for a new code and try again.',
  invalid_assertion: 'The passkey could not be verified. Try again, or use another way to sign in.',
  invalid_token: 'Your session has ended. Sign in again.',
  invalid_refresh_token: 'Your session has ended. Sign in again.',
  refresh_token_reused:
    'For your safety you were signed out: your session was used from somewhere else. Sign in again, and review your sessions.',
  csrf_rejected: 'The request came from another site and was refused. Open Strongroom directly and try again.',
  step_up_required: 'Please confirm it is you with your second factor to continue.',
  mfa_enrollment_required: 'This needs a second factor. Set up an authenticator app or a passkey on the Security page first.',
  too_many_passkeys: 'You have the most passkeys allowed. Remove one before adding another.',
  factor_required: 'Your role requires a second factor. Add another before removing this one.',
  account_quarantined:
    'Your account is on hold because of unusual activity. Confirm it is you with your second factor to lift the hold.',
  geo_blocked: 'Strongroom is not available from your location.',
  request_rejected:
    'Your request was refused by a security check. If you believe this is a mistake, contact support.',
  email_unverified: 'Verify your email address before sending money.',
  // Administration.
  same_approver: 'Another administrator must approve a request you made.',
  approval_closed: 'This approval is no longer pending: it was decided, or it expired.',
  invalid_reset_token: 'This password reset link is invalid, expired, or was already used.',
  invalid_verification_token: 'This verification link is invalid, expired, or was already used.',
  balance_not_zero: 'Your accounts still hold money. Move it out before closing your account.',
  // Service batches (internal listener; never shown to customers, named for completeness).
  batch_too_large: 'The batch holds more than 8,000 postings. Split it and send the parts.',
  balance_limit: 'The amount would take a balance beyond what an account can hold.',
  approval_required: 'This withdrawal needs a second approval. File it on its own.',
  // Personal data.
  key_service_unavailable: 'Your personal data is temporarily locked. Try again shortly.',
  data_integrity_error: 'This data failed a safety check and cannot be shown. Contact support.',
  // Money.
  account_exists: 'You already have an account in this currency.',
  idempotency_key_required: 'The transfer could not be sent safely. Reload the page and try again.',
  idempotency_key_reused: 'This transfer was already submitted with different details. Start a new transfer.',
  request_in_progress: 'This transfer is still being processed. Wait a moment, then check your history before trying again.',
  insufficient_funds:
    'There is not enough money available in the source account (some may be reserved for payments that have not settled yet).',
  currency_mismatch: 'Both accounts must be in the transfer’s currency.',
  same_account: 'The source and destination must be different accounts.',
  account_frozen: 'This account cannot send money right now.',
  duplicate_external_ref: 'This payment was already recorded.',
  already_reversed: 'This payment was already reversed.',
  not_reversible: 'A reversal cannot itself be reversed.',
  hold_closed: 'This reservation was already settled or released.',
  capture_exceeds_hold: 'The amount is larger than the reservation.',
  // The web app itself.
  web_app_not_built: 'The web app is not available on this server.',
  rate_limited: 'Too many attempts.',
};

/** What a field error means, next to its field. */
export const FIELD_MESSAGES: Readonly<Record<string, string>> = {
  length: 'This is empty or too long.',
  invalid_characters: 'This contains characters that are not allowed.',
  invalid: 'This is not valid.',
  invalid_date: 'Enter a real date, not in the future, after 1900.',
  not_iso_3166: 'Choose a country from the list.',
  out_of_range: 'This amount is not allowed. It must be more than zero and at most 10,000,000,000,000.00.',
  unsupported_currency: 'This currency is not supported.',
  unknown_field: 'This field is not accepted.',
  // The password policy (weak_password names the rule it failed).
  too_short: 'Use at least 12 characters.',
  too_long: 'Use at most 256 characters.',
  too_common: 'This password is too easy to guess. Avoid common passwords and your own name or email.',
};

/** Field-specific overrides, by `field:code`. */
const FIELD_CODE_MESSAGES: Readonly<Record<string, string>> = {
  'email:invalid': 'Enter an email address like name@example.com.',
  'new_email:invalid': 'Enter an email address like name@example.com.',
  // Not a field error of the server (a 401 invalid_credentials), placed on its field.
  'current_password:invalid_credentials': 'This is not your current password.',
  'display_name:length': 'Enter a name of 1 to 100 characters.',
  'legal_name:length': 'Enter your legal name (at most 200 characters).',
  'national_id:length': 'Enter your national id (at most 64 characters).',
  'national_id:invalid_characters': 'Use only letters, digits, spaces and hyphens.',
  'address.postal_code:length': 'Enter a postal code of at most 20 characters.',
  'address.postal_code:invalid_characters': 'Use only letters, digits, spaces and hyphens.',
  'memo:invalid': 'Use at most 140 characters, without line breaks.',
  'name:length': 'Enter a name of 1 to 64 characters.',
};

export function fieldMessage(error: FieldError): string {
  return (
    FIELD_CODE_MESSAGES[`${error.field}:${error.code}`] ??
    FIELD_MESSAGES[error.code] ??
    'This value is not accepted.'
  );
}

/** When to retry, in words: "in 42 seconds (at 14:05)". */
export function retryWhen(secs: number, now: Date = new Date()): string {
  const at = new Date(now.getTime() + secs * 1000);
  const clock = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (secs < 90) return `in ${secs} second${secs === 1 ? '' : 's'} (at ${clock})`;
  const minutes = Math.ceil(secs / 60);
  return `in about ${minutes} minutes (at ${clock})`;
}

/** The sentence for any error thrown by the API client (or anything else). */
export function problemMessage(error: unknown, now: Date = new Date()): string {
  if (!(error instanceof ApiProblem)) return PROBLEM_MESSAGES.internal_error ?? '';
  const sentence = PROBLEM_MESSAGES[error.code] ?? genericMessage(error.status);
  if (error.code === 'rate_limited' || error.status === 429) {
    return error.retryAfterSecs !== null
      ? `Too many attempts. Try again ${retryWhen(error.retryAfterSecs, now)}.`
      : 'Too many attempts. Wait a minute and try again.';
  }
  if (error.code === 'key_service_unavailable') return sentence;
  if (error.status === 503 && error.retryAfterSecs !== null && error.code !== 'web_app_not_built') {
    return `${sentence} You can try again ${retryWhen(error.retryAfterSecs, now)}.`;
  }
  return sentence;
}

function genericMessage(status: number): string {
  if (status >= 500) return PROBLEM_MESSAGES.internal_error ?? '';
  if (status === 404) return PROBLEM_MESSAGES.not_found ?? '';
  if (status === 401) return PROBLEM_MESSAGES.invalid_token ?? '';
  if (status === 403) return PROBLEM_MESSAGES.forbidden ?? '';
  return PROBLEM_MESSAGES.invalid_request ?? '';
}
