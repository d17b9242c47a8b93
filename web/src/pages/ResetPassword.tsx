// Reset password, from the link in the mail (`/reset-password#token=...`): the token is read
// from the fragment and removed from the address bar; a new password is chosen with the rules
// shown as the person types. Every session ends on the server, so the person signs in again
// (and is still asked for their second factor).

import { useRef, useState, type FormEvent } from 'react';
import { isProblem } from '../api/problem';
import { PasswordRuleList, passwordRulesError, useStrengthEstimator } from '../components/PasswordRules';
import { ErrorAlert, Page, TextField } from '../components/ui';
import { problemMessage } from '../errors';
import { focusFirstInvalid, useFormErrors, useLinkToken } from '../hooks';
import { Link, navigate } from '../router';
import { api } from '../services';
import { useSession } from '../session';
import { PASSWORD_CHARS_MAX, checkPassword, passwordAcceptable } from '../validation';

export const PASSWORD_RESET_DONE =
  'Your new password is set, and every device was signed out. Sign in with your new password. If your account has a second factor (authenticator app or passkey), you will still be asked for it.';

export function ResetPasswordPage() {
  const { status, signOut, showNotice } = useSession();
  const token = useLinkToken();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [linkDead, setLinkDead] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);
  const estimate = useStrengthEstimator();
  const rules = checkPassword(password, [], estimate);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || token === null) return;
    errors.clear();
    if (!passwordAcceptable(rules)) {
      errors.setField('new_password', passwordRulesError(rules));
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      await api.post('/v1/auth/password/reset', { auth: false, body: { token, new_password: password } });
      setPassword('');
      // The server ended every session, this tab's too.
      if (status === 'signed-in') await signOut();
      showNotice(PASSWORD_RESET_DONE);
      navigate('/signin');
    } catch (problem) {
      if (isProblem(problem, 'invalid_reset_token')) {
        setLinkDead(true);
        errors.setMessage(problemMessage(problem));
      } else if (isProblem(problem, 'weak_password') && problem.errors.length === 0) {
        errors.setField('new_password', problemMessage(problem));
        errors.setMessage('Please correct the highlighted fields.');
      } else {
        errors.show(problem, ['new_password']);
      }
      focusFirstInvalid(form.current);
    } finally {
      setBusy(false);
    }
  };

  if (token === null || linkDead) {
    return (
      <Page title="Choose a new password">
        <ErrorAlert
          message={
            errors.message ??
            'This link is incomplete. Open the link from the email again, or ask for a new one.'
          }
        />
        <p>
          <Link to="/forgot-password">Ask for a new link</Link>
        </p>
      </Page>
    );
  }

  return (
    <Page title="Choose a new password">
      <p>Choose a new password for your Strongroom account. Every device signed in to it will be signed out.</p>
      <form ref={form} onSubmit={submit} noValidate className="narrow">
        <ErrorAlert message={errors.message} />
        <TextField
          id="new_password"
          label="New password"
          type="password"
          autoComplete="new-password"
          value={password}
          maxLength={PASSWORD_CHARS_MAX * 4}
          onChange={(event) => setPassword(event.target.value)}
          error={errors.fields.new_password}
          required
          details={<PasswordRuleList id="new_password" rules={rules} />}
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Setting your password…' : 'Set new password'}
          </button>
        </div>
      </form>
    </Page>
  );
}
