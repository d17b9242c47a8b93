// The account's own settings on the Security page: the email address (verification, change),
// the password (change), a download of everything Strongroom holds about the person, and
// closing the account. Each asks for the second factor where the server wants it (the step-up
// dialog), or offers to set one up where the account has none.

import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { isProblem } from '../api/problem';
import type { DataExport, Me } from '../api/types';
import { PasswordRuleList, passwordRulesError, useStrengthEstimator } from '../components/PasswordRules';
import { Dialog, ErrorAlert, Notice, Section, TextField } from '../components/ui';
import { fieldMessage, problemMessage } from '../errors';
import { exportFileName } from '../format';
import { focusFirstInvalid, useFormErrors } from '../hooks';
import { Link } from '../router';
import { api } from '../services';
import { useSession } from '../session';
import { StepUpCancelled, useStepUp } from '../stepup';
import { PASSWORD_CHARS_MAX, checkPassword, isValidEmail, passwordAcceptable, strengthInputs } from '../validation';

export const ACCOUNT_CLOSED_NOTICE =
  'Your Strongroom account is closed and you were signed out everywhere. Your personal details were deleted; the record of your past transactions is kept without your name, as the law requires.';

/** The email address: verified or not (with the link sent again on request), and changing it. */
export function EmailSection({ me }: { me: Me }) {
  const { reloadMe } = useSession();
  const stepUp = useStepUp();
  const [newEmail, setNewEmail] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);

  const resend = async () => {
    if (busy) return;
    errors.clear();
    setNotice(null);
    setBusy(true);
    try {
      await api.post('/v1/me/email', { body: { new_email: me.email } });
      setNotice(`We sent a new verification link to ${me.email}. It works for 24 hours; only the newest link works.`);
      // Verified meanwhile (in another tab, from the mail)? Then the notice goes away.
      await reloadMe();
    } catch (problem) {
      errors.show(problem);
    } finally {
      setBusy(false);
    }
  };

  const change = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    setNotice(null);
    const address = newEmail.trim();
    if (!isValidEmail(address)) {
      errors.setField('new_email', 'Enter an email address like name@example.com.');
      focusFirstInvalid(form.current);
      return;
    }
    if (address.toLowerCase() === me.email.toLowerCase()) {
      errors.setField('new_email', 'This is already your email address.');
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      await stepUp.run(
        () => api.post('/v1/me/email', { body: { new_email: address } }),
        'Changing your email address needs you to confirm it is you.',
      );
      setNewEmail('');
      setPending(address);
      setNotice(
        `We sent a link to ${address}. Open it to finish the change. Until then, keep signing in with ${me.email}: it stays your address if the link is not opened.`,
      );
    } catch (problem) {
      errors.show(problem, ['new_email']);
      focusFirstInvalid(form.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Email address" id="email">
      <Notice message={notice} />
      <ErrorAlert message={errors.message} />
      <p>
        You sign in with <strong data-testid="current-email">{me.email}</strong>{' '}
        {me.email_verified ? (
          <span className="badge badge-ok">Verified</span>
        ) : (
          <span className="badge badge-warning">Not verified</span>
        )}
      </p>
      {me.email_verified ? null : (
        <div className="alert alert-warning" data-testid="unverified-email">
          <p>
            Your email address is not verified yet. Open the link we emailed to {me.email} to confirm it is yours. No
            mail, or the link expired?
          </p>
          <button type="button" className="secondary" onClick={resend} disabled={busy}>
            Send the link again
          </button>
        </div>
      )}
      {pending ? (
        <p className="hint">
          Waiting for you to open the link sent to <strong>{pending}</strong>.
        </p>
      ) : null}
      <form ref={form} onSubmit={change} noValidate className="inline-form">
        <TextField
          id="new_email"
          label="New email address"
          hint="We send a link to the new address. The change takes effect once you open it."
          type="email"
          autoComplete="email"
          value={newEmail}
          onChange={(event) => setNewEmail(event.target.value)}
          error={errors.fields.new_email}
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            Change email address
          </button>
        </div>
      </form>
    </Section>
  );
}

/** Changing the password with the current one; the other devices are signed out. */
export function PasswordSection({ me, onChanged }: { me: Me; onChanged: () => void }) {
  const stepUp = useStepUp();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);
  const estimate = useStrengthEstimator();
  const rules = checkPassword(password, strengthInputs(me.email, me.display_name), estimate);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    setNotice(null);
    let valid = true;
    if (current === '') {
      errors.setField('current_password', 'Enter your current password.');
      valid = false;
    }
    if (!passwordAcceptable(rules)) {
      errors.setField('new_password', passwordRulesError(rules));
      valid = false;
    }
    if (!valid) {
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      await stepUp.run(
        () => api.post('/v1/me/password', { body: { current_password: current, new_password: password } }),
        'Changing your password needs you to confirm it is you.',
      );
      setCurrent('');
      setPassword('');
      setNotice('Your password was changed. Any other devices signed in to your account were signed out.');
      onChanged();
    } catch (problem) {
      if (isProblem(problem, 'invalid_credentials')) {
        errors.setField('current_password', fieldMessage({ field: 'current_password', code: 'invalid_credentials' }));
        errors.setMessage('Please correct the highlighted fields.');
      } else if (isProblem(problem, 'weak_password') && problem.errors.length === 0) {
        errors.setField('new_password', problemMessage(problem));
        errors.setMessage('Please correct the highlighted fields.');
      } else {
        errors.show(problem, ['current_password', 'new_password']);
      }
      focusFirstInvalid(form.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Password" id="password">
      <Notice message={notice} />
      <form ref={form} onSubmit={submit} noValidate>
        <ErrorAlert message={errors.message} />
        {/* For password managers: which account this password belongs to. */}
        <input type="email" name="username" autoComplete="username" value={me.email} readOnly hidden />
        <TextField
          id="current_password"
          label="Current password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
          error={errors.fields.current_password}
        />
        <TextField
          id="new_password"
          label="New password"
          type="password"
          autoComplete="new-password"
          value={password}
          maxLength={PASSWORD_CHARS_MAX * 4}
          onChange={(event) => setPassword(event.target.value)}
          error={errors.fields.new_password}
          details={<PasswordRuleList id="new_password" rules={rules} />}
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </Section>
  );
}

/** Saves `text` as a file through a Blob URL (allowed by the CSP: no network, no inline code). */
function saveFile(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A copy of everything Strongroom holds about the person, as a JSON file. */
export function DataSection() {
  const stepUp = useStepUp();
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const download = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const data = await stepUp.run(
        () => api.get<DataExport>('/v1/me/export'),
        'Downloading your data needs you to confirm it is you.',
      );
      const name = exportFileName(data.exported_at);
      saveFile(name, `${JSON.stringify(data, null, 2)}\n`, 'application/json');
      setNotice(
        `Your data was downloaded as ${name}.${data.truncated ? ' Some very long lists were cut at 100,000 items.' : ''} Keep the file safe: it holds your personal details.`,
      );
    } catch (problem) {
      setError(problem instanceof StepUpCancelled ? 'Not confirmed, so nothing was downloaded.' : problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Your data" id="your-data">
      <Notice message={notice} />
      <ErrorAlert message={error} />
      <p>
        Download a copy of everything Strongroom holds about you: your account, personal details, sessions, security
        events, and your accounts with their history, as one JSON file.
      </p>
      <button type="button" className="secondary" onClick={download} disabled={busy}>
        {busy ? 'Preparing your data…' : 'Download my data'}
      </button>
    </Section>
  );
}

/** Closing the account: confirmation, step-up, refused while money is held, then signed out. */
export function CloseAccountSection() {
  const { signOut, showNotice } = useSession();
  const stepUp = useStepUp();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReactNode>(null);

  const cancel = () => {
    setError(null);
    setOpen(false);
  };

  const close = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await stepUp.run(() => api.delete('/v1/me'), 'Closing your account needs you to confirm it is you.');
      // The server ended every session and cleared the sign-in cookie; this tab forgets its token.
      await signOut();
      showNotice(ACCOUNT_CLOSED_NOTICE);
    } catch (problem) {
      if (problem instanceof StepUpCancelled) setError('Not confirmed, so your account stays open.');
      else if (isProblem(problem, 'balance_not_zero'))
        setError(
          <>
            {problemMessage(problem)} Send it to another bank account or person first, then close your account.{' '}
            <Link to="/accounts">See your accounts</Link>
          </>,
        );
      else setError(problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Close your account" id="close-account">
      <p>
        Closing your account signs you out everywhere and deletes your personal details, email address and second
        factors. It cannot be undone. Your accounts must be empty first.
      </p>
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        Close my account
      </button>
      <Dialog open={open} title="Close your Strongroom account?" onCancel={cancel}>
        <p>
          You will be signed out everywhere and will not be able to sign in again. Your personal details, email address
          and second factors are deleted. The record of your past transactions is kept without your name, as the law
          requires.
        </p>
        {error ? (
          <div className="alert alert-error" role="alert">
            {error}
          </div>
        ) : null}
        <div className="actions">
          <button type="button" className="danger" onClick={close} disabled={busy}>
            Close my account for good
          </button>
          <button type="button" className="secondary" onClick={cancel} data-autofocus>
            Keep my account
          </button>
        </div>
      </Dialog>
    </Section>
  );
}
