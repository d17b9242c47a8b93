// Sign in: password, then the second factor the account has (authenticator code, passkey or
// recovery code); or a passkey alone.

import { useRef, useState, type FormEvent } from 'react';
import { isProblem } from '../api/problem';
import type { MfaChallenge } from '../api/types';
import type { TokenResponse } from '../auth/tokens';
import { ErrorAlert, Notice, Page, TextField } from '../components/ui';
import { problemMessage } from '../errors';
import { focusFirstInvalid, useFormErrors } from '../hooks';
import { Link } from '../router';
import { api } from '../services';
import { useSession } from '../session';
import { isValidEmail } from '../validation';
import { getAssertion, passkeyErrorMessage, passkeysSupported, type Ceremony } from '../webauthn';

type SecondStep = 'totp' | 'recovery';

export function SignInPage() {
  const { signIn, notice } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);

  const finish = (answer: TokenResponse | MfaChallenge) => {
    if ('mfa_required' in answer) {
      setPassword('');
      setChallenge(answer);
    } else {
      signIn(answer);
    }
  };

  const submitPassword = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    let valid = true;
    if (!isValidEmail(email)) {
      errors.setField('email', 'Enter the email address of your account.');
      valid = false;
    }
    if (password === '') {
      errors.setField('password', 'Enter your password.');
      valid = false;
    }
    if (!valid) {
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      finish(
        await api.post<TokenResponse | MfaChallenge>('/v1/auth/login', {
          auth: false,
          body: { email: email.trim(), password },
        }),
      );
    } catch (problem) {
      errors.show(problem, ['email', 'password']);
    } finally {
      setBusy(false);
    }
  };

  const passkeyFirst = async () => {
    if (busy) return;
    errors.clear();
    setBusy(true);
    try {
      const ceremony = await api.post<Ceremony>('/v1/auth/webauthn/login/options', { auth: false, body: {} });
      const credential = await getAssertion(ceremony);
      finish(
        await api.post<TokenResponse>('/v1/auth/webauthn/login', {
          auth: false,
          body: { ceremony_id: ceremony.ceremony_id, credential },
        }),
      );
    } catch (problem) {
      errors.setMessage(passkeyErrorMessage(problem) ?? problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  if (challenge) {
    return <SecondFactor challenge={challenge} onRestart={() => setChallenge(null)} onTokens={finish} />;
  }

  return (
    <Page title="Sign in">
      <Notice message={notice} />
      <form ref={form} onSubmit={submitPassword} noValidate className="narrow">
        <ErrorAlert message={errors.message} />
        <TextField
          id="email"
          label="Email"
          type="email"
          autoComplete="username webauthn"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          error={errors.fields.email}
          required
        />
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          error={errors.fields.password}
          required
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </div>
        <p>
          <Link to="/forgot-password">Forgot your password?</Link>
        </p>
      </form>
      {passkeysSupported() ? (
        <div className="narrow alternative">
          <p>Or, on a device that holds your passkey:</p>
          <button type="button" className="secondary" onClick={passkeyFirst} disabled={busy}>
            Sign in with a passkey
          </button>
        </div>
      ) : null}
      <p>
        New to Strongroom? <Link to="/signup">Create an account</Link>.
      </p>
    </Page>
  );
}

function SecondFactor({
  challenge,
  onRestart,
  onTokens,
}: {
  challenge: MfaChallenge;
  onRestart: () => void;
  onTokens: (tokens: TokenResponse) => void;
}) {
  const hasTotp = challenge.methods.includes('totp');
  const hasPasskey = challenge.methods.includes('webauthn');
  const [mode, setMode] = useState<SecondStep>(hasTotp ? 'totp' : 'recovery');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);
  const fieldId = mode === 'totp' ? 'totp_code' : 'recovery_code';

  const submitCode = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    const value = code.trim();
    if (mode === 'totp' && !/^\d{6}$/.test(value.replace(/\s/g, ''))) {
      errors.setField(fieldId, 'Enter the 6 digits your authenticator app shows.');
      focusFirstInvalid(form.current);
      return;
    }
    if (mode === 'recovery' && value === '') {
      errors.setField(fieldId, 'Enter one of your recovery codes.');
      focusFirstInvalid(form.current);
      return;
    }
    setBusy(true);
    try {
      const tokens =
        mode === 'totp'
          ? await api.post<TokenResponse>('/v1/auth/mfa/totp', {
              auth: false,
              body: { mfa_ticket: challenge.mfa_ticket, code: value.replace(/\s/g, '') },
            })
          : await api.post<TokenResponse>('/v1/auth/mfa/recovery', {
              auth: false,
              body: { mfa_ticket: challenge.mfa_ticket, recovery_code: value },
            });
      onTokens(tokens);
    } catch (problem) {
      if (isProblem(problem, 'invalid_code')) {
        errors.setField(fieldId, problemMessage(problem));
        focusFirstInvalid(form.current);
      } else {
        errors.show(problem);
      }
    } finally {
      setBusy(false);
    }
  };

  const usePasskey = async () => {
    if (busy) return;
    errors.clear();
    setBusy(true);
    try {
      const ceremony = await api.post<Ceremony>('/v1/auth/webauthn/login/options', {
        auth: false,
        body: { mfa_ticket: challenge.mfa_ticket },
      });
      const credential = await getAssertion(ceremony);
      onTokens(
        await api.post<TokenResponse>('/v1/auth/webauthn/login', {
          auth: false,
          body: { ceremony_id: ceremony.ceremony_id, credential },
        }),
      );
    } catch (problem) {
      errors.setMessage(passkeyErrorMessage(problem) ?? problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Second step">
      <p>Your account is protected with a second factor. Confirm it is you to finish signing in.</p>
      <ErrorAlert message={errors.message} />
      {hasPasskey ? (
        <div className="narrow">
          <button type="button" onClick={usePasskey} disabled={busy}>
            Use your passkey
          </button>
        </div>
      ) : null}
      <form ref={form} onSubmit={submitCode} noValidate className="narrow" key={mode}>
        {mode === 'totp' ? (
          <TextField
            id={fieldId}
            label="Code from your authenticator app"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={8}
            value={code}
            onChange={(event) => setCode(event.target.value)}
            error={errors.fields[fieldId]}
          />
        ) : (
          <TextField
            id={fieldId}
            label="Recovery code"
            hint="One of the codes you saved when you set up your authenticator app. Each works once."
            autoComplete="off"
            spellCheck={false}
            value={code}
            onChange={(event) => setCode(event.target.value)}
            error={errors.fields[fieldId]}
          />
        )}
        <div className="actions">
          <button type="submit" disabled={busy} className={hasPasskey ? 'secondary' : undefined}>
            Verify
          </button>
        </div>
      </form>
      <div className="narrow links">
        {mode === 'totp' ? (
          <button type="button" className="link" onClick={() => { setCode(''); setMode('recovery'); errors.clear(); }}>
            Use a recovery code instead
          </button>
        ) : hasTotp ? (
          <button type="button" className="link" onClick={() => { setCode(''); setMode('totp'); errors.clear(); }}>
            Use your authenticator app instead
          </button>
        ) : null}
        <button type="button" className="link" onClick={onRestart}>
          Start over
        </button>
      </div>
    </Page>
  );
}
