// Sign up: the password rules are shown as the person types, with the server's own rules
// (length, and a zxcvbn strength score with the email and name as inputs).

import { useRef, useState, type FormEvent } from 'react';
import { isProblem } from '../api/problem';
import type { MfaChallenge } from '../api/types';
import type { TokenResponse } from '../auth/tokens';
import { PasswordRuleList, passwordRulesError, useStrengthEstimator } from '../components/PasswordRules';
import { ErrorAlert, Page, TextField } from '../components/ui';
import { problemMessage } from '../errors';
import { focusFirstInvalid, useFormErrors } from '../hooks';
import { Link, navigate } from '../router';
import { api } from '../services';
import { useSession } from '../session';
import {
  DISPLAY_NAME_CHARS_MAX,
  checkName,
  checkPassword,
  isValidEmail,
  passwordAcceptable,
  strengthInputs,
} from '../validation';

export function SignUpPage() {
  const { signIn, showNotice } = useSession();
  const [displayName, setDisplayName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);
  const estimate = useStrengthEstimator();
  const rules = checkPassword(password, strengthInputs(email, displayName), estimate);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    let valid = true;
    const nameProblem = checkName(displayName, DISPLAY_NAME_CHARS_MAX);
    if (nameProblem) {
      errors.setField('display_name', `Enter a name of 1 to ${DISPLAY_NAME_CHARS_MAX} characters.`);
      valid = false;
    }
    if (!isValidEmail(email)) {
      errors.setField('email', 'Enter an email address like name@example.com.');
      valid = false;
    }
    if (!passwordAcceptable(rules)) {
      errors.setField('password', passwordRulesError(rules));
      valid = false;
    }
    if (!valid) {
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      await api.post('/v1/auth/register', {
        auth: false,
        body: { email: email.trim(), password, display_name: displayName.trim() },
      });
      const answer = await api
        .post<TokenResponse | MfaChallenge>('/v1/auth/login', { auth: false, body: { email: email.trim(), password } })
        .catch(() => null);
      if (answer && 'access_token' in answer) {
        signIn(answer);
      } else {
        // The answer to a registration never says whether the email was new; sign in as usual.
        showNotice('Sign in to continue.');
        navigate('/signin');
      }
    } catch (problem) {
      if (isProblem(problem, 'weak_password')) {
        errors.setField('password', problemMessage(problem));
        errors.setMessage('Please correct the highlighted fields.');
      } else {
        errors.show(problem, ['email', 'display_name', 'password']);
      }
      focusFirstInvalid(form.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Create your account">
      <p>
        Already have an account? <Link to="/signin">Sign in</Link>.
      </p>
      <form ref={form} onSubmit={submit} noValidate className="narrow">
        <ErrorAlert message={errors.message} />
        <TextField
          id="display_name"
          label="Your name"
          hint="How Strongroom greets you."
          autoComplete="name"
          value={displayName}
          onChange={(event) => setDisplayName(event.target.value)}
          error={errors.fields.display_name}
          maxLength={DISPLAY_NAME_CHARS_MAX * 2}
          required
        />
        <TextField
          id="email"
          label="Email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          error={errors.fields.email}
          required
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          error={errors.fields.password}
          required
          details={<PasswordRuleList id="password" rules={rules} />}
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Creating your account…' : 'Create account'}
          </button>
        </div>
      </form>
    </Page>
  );
}
