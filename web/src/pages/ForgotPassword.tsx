// Forgot password: asks the server to mail a reset link. The answer is the same whether or not
// the address has an account, and the page says so in the same words either way.

import { useRef, useState, type FormEvent } from 'react';
import { ErrorAlert, Notice, Page, TextField } from '../components/ui';
import { focusFirstInvalid, useFormErrors } from '../hooks';
import { Link } from '../router';
import { api } from '../services';
import { isValidEmail } from '../validation';

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    setSentTo(null);
    const address = email.trim();
    if (!isValidEmail(address)) {
      errors.setField('email', 'Enter the email address of your account, like name@example.com.');
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      await api.post('/v1/auth/password/forgot', { auth: false, body: { email: address } });
      setSentTo(address);
    } catch (problem) {
      errors.show(problem, ['email']);
      focusFirstInvalid(form.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Forgot your password?">
      <p>
        Enter the email address you sign in with. If it belongs to a Strongroom account, we will email it a link to
        choose a new password.
      </p>
      <Notice
        message={
          sentTo
            ? `If an account uses ${sentTo}, we have sent it a link to choose a new password. The link works for 30 minutes and only once. It can take a few minutes to arrive; check your spam folder too.`
            : null
        }
      />
      <form ref={form} onSubmit={submit} noValidate className="narrow">
        <ErrorAlert message={errors.message} />
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
        <div className="actions">
          <button type="submit" disabled={busy}>
            {sentTo ? 'Send another link' : 'Send me a link'}
          </button>
        </div>
      </form>
      <p>
        Your second factor (authenticator app or passkey) stays as it is: after choosing a new password you will
        still be asked for it when you sign in.
      </p>
      <p>
        Remembered it? <Link to="/signin">Back to sign in</Link>.
      </p>
    </Page>
  );
}
