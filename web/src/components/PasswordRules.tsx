// The password rules shown as a person types (the server's own rules: length, and a zxcvbn
// strength score with the email and name as inputs), shared by every form that sets one.

import { useEffect, useState } from 'react';
import { PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, type PasswordRules, type StrengthEstimator } from '../validation';

/** zxcvbn is large (its dictionaries): loaded only where a password is set, as its own file. */
export function useStrengthEstimator(): StrengthEstimator | null {
  const [estimate, setEstimate] = useState<StrengthEstimator | null>(null);
  useEffect(() => {
    let live = true;
    void import('zxcvbn').then((module) => {
      const zxcvbn = module.default;
      if (live) setEstimate(() => (password: string, inputs: string[]) => zxcvbn(password, inputs).score);
    });
    return () => {
      live = false;
    };
  }, []);
  return estimate;
}

function Rule({ met, children }: { met: boolean | null; children: string }) {
  const state = met === null ? 'checking' : met ? 'met' : 'unmet';
  const label = met === null ? 'Checking:' : met ? 'Done:' : 'Not yet:';
  return (
    <li className={`rule rule-${state}`}>
      <span aria-hidden="true" className="rule-mark">
        {met === null ? '…' : met ? '✓' : '✗'}
      </span>
      <span className="visually-hidden">{label} </span>
      {children}
    </li>
  );
}

/** The rules as a live list; `id` makes the list's title unique on the page. */
export function PasswordRuleList({ id, rules }: { id: string; rules: PasswordRules }) {
  const titleId = `${id}-rules-title`;
  return (
    <>
      <span id={titleId} className="hint">
        Your password must:
      </span>
      <ul className="rules" aria-labelledby={titleId} aria-live="polite">
        <Rule met={rules.longEnough}>{`have at least ${PASSWORD_CHARS_MIN} characters`}</Rule>
        <Rule met={rules.notTooLong}>{`have at most ${PASSWORD_CHARS_MAX} characters`}</Rule>
        <Rule met={rules.hardToGuess}>be hard to guess: not a common password, and not based on your name or email</Rule>
      </ul>
    </>
  );
}

/** What to say next to a password field the rules refuse. */
export function passwordRulesError(rules: PasswordRules): string {
  return rules.hardToGuess === null
    ? 'Still checking the password; try again in a moment.'
    : 'This password does not meet the rules below.';
}
