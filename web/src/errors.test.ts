// Every problem code the server can answer has a sentence for people; 429 says when to
// retry; a locked key service says only that the data is temporarily locked.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ApiProblem } from './api/problem';
import { PROBLEM_MESSAGES, fieldMessage, problemMessage } from './errors';

/** The codes of the server's one problem table (`ApiError::describe` in
 *  crates/api/src/error.rs: `(status, "code", "title")`). A new server code without a sentence
 *  here fails this test. */
function serverCodes(): string[] {
  const source = readFileSync(fileURLToPath(new URL('../../crates/api/src/error.rs', import.meta.url)), 'utf8');
  const body = source.slice(source.indexOf('fn describe(&self)'), source.indexOf('pub fn status(&self)'));
  const codes = [...body.matchAll(/S::[A-Z_]+,\s*"([a-z_]+)"/g)].map((match) => match[1] ?? '');
  expect(codes.length).toBeGreaterThan(20);
  return codes;
}

describe('problem messages', () => {
  it('cover every code the server can answer', () => {
    const missing = [...serverCodes(), 'web_app_not_built', 'mfa_enrollment_required'].filter(
      (code) => !(code in PROBLEM_MESSAGES),
    );
    expect(missing).toEqual([]);
  });

  it('are sentences, never the code', () => {
    for (const [code, sentence] of Object.entries(PROBLEM_MESSAGES)) {
      expect(sentence, code).not.toContain(code.includes('_') ? code : '\u0000');
      expect(sentence.length, code).toBeGreaterThan(10);
      expect(sentence, code).toMatch(/[.!]$/);
    }
  });

  it('say when to retry after 429', () => {
    const now = new Date(2026, 10, 27, 14, 0, 0);
    const message = problemMessage(new ApiProblem({ status: 429, code: 'rate_limited', retryAfterSecs: 42 }), now);
    expect(message).toContain('Try again in 42 seconds');
    expect(message).toMatch(/\(at \d{1,2}:00/);
    expect(problemMessage(new ApiProblem({ status: 429, code: 'rate_limited', retryAfterSecs: 600 }), now)).toContain(
      'in about 10 minutes',
    );
  });

  it('say only that personal data is temporarily locked when the key service is down', () => {
    const message = problemMessage(
      new ApiProblem({ status: 503, code: 'key_service_unavailable', retryAfterSecs: 5 }),
    );
    expect(message).toBe('Your personal data is temporarily locked. Try again shortly.');
  });

  it('fall back by status for unknown codes', () => {
    expect(problemMessage(new ApiProblem({ status: 500, code: 'something_new' }))).toBe(PROBLEM_MESSAGES.internal_error);
    expect(problemMessage(new Error('boom'))).toBe(PROBLEM_MESSAGES.internal_error);
  });

  it('give field errors in words', () => {
    expect(fieldMessage({ field: 'email', code: 'invalid' })).toContain('email address');
    expect(fieldMessage({ field: 'address.country', code: 'not_iso_3166' })).toContain('country');
    expect(fieldMessage({ field: 'amount', code: 'out_of_range' })).toContain('amount');
    expect(fieldMessage({ field: 'whatever', code: 'new_code' })).toBe('This value is not accepted.');
  });

  it('name the password rule a weak password broke', () => {
    expect(fieldMessage({ field: 'new_password', code: 'too_short' })).toBe('Use at least 12 characters.');
    expect(fieldMessage({ field: 'new_password', code: 'too_long' })).toBe('Use at most 256 characters.');
    expect(fieldMessage({ field: 'new_password', code: 'too_common' })).toContain('too easy to guess');
    expect(fieldMessage({ field: 'current_password', code: 'invalid_credentials' })).toBe('This is not your current password.');
    expect(fieldMessage({ field: 'new_email', code: 'invalid' })).toContain('email address');
  });
});
