// Security: the email address and password, second factors (authenticator app with a QR code
// rendered here, recovery codes shown once, passkeys), sessions with revoke, the security events
// of the account, a download of one's data, and closing the account.

import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { isProblem } from '../api/problem';
import type { Factors, Page as ApiPage, SecurityEvent, SessionInfo, TotpEnrolment } from '../api/types';
import { QrCode } from '../components/QrCode';
import { Busy, Dialog, ErrorAlert, Notice, Page, Section, TextField } from '../components/ui';
import { problemMessage } from '../errors';
import { describeDevice, describeEvent, formatDateTime } from '../format';
import { usePaged } from '../hooks';
import { api } from '../services';
import { useSession } from '../session';
import { StepUpCancelled, useStepUp } from '../stepup';
import { PASSKEY_NAME_CHARS_MAX, checkName } from '../validation';
import { createCredential, passkeyErrorMessage, passkeysSupported, type Ceremony } from '../webauthn';
import { CloseAccountSection, DataSection, EmailSection, PasswordSection } from './AccountSettings';

const SESSIONS_PAGE_LEN = 50;
const EVENTS_PAGE_LEN = 20;

interface EnrolBody {
  password?: string;
}

interface Confirmation {
  title: string;
  text: string;
  action: string;
  run: () => Promise<void>;
}

/** The sections a link may point at (`/security#authenticator`, from the offer to set up a
 *  second factor), and where the focus goes in each once it is shown. */
const TARGETS: Readonly<Record<string, string>> = {
  email: '#new_email',
  password: '#current_password',
  authenticator: 'button',
  passkeys: '#passkey-name',
  'your-data': 'button',
  'close-account': 'button',
};

export function SecurityPage() {
  const { me, reloadMe } = useSession();
  const stepUp = useStepUp();
  const [factors, setFactors] = useState<Factors | null>(null);
  const [factorsError, setFactorsError] = useState<string | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [passwordRequest, setPasswordRequest] = useState<((password: string | null) => void) | null>(null);
  const [confirmation, setConfirmation] = useState<Confirmation | null>(null);
  const [sessionsKey, setSessionsKey] = useState(0);

  const loadFactors = useCallback(async () => {
    try {
      setFactors(await api.get<Factors>('/v1/me/factors'));
      setFactorsError(null);
    } catch (problem) {
      setFactorsError(problemMessage(problem));
    }
  }, []);

  useEffect(() => {
    void loadFactors();
  }, [loadFactors]);

  const loaded = factors !== null;
  useEffect(() => {
    const target = window.location.hash.slice(1);
    const focus = Object.hasOwn(TARGETS, target) ? TARGETS[target] : undefined;
    if (!loaded || focus === undefined) return;
    const section = document.getElementById(target);
    section?.scrollIntoView({ block: 'start' });
    section?.querySelector<HTMLElement>(focus)?.focus({ preventScroll: true });
  }, [loaded]);

  const factorChanged = async (message: string) => {
    setNotice(`${message} Any other devices signed in to your account were signed out.`);
    await Promise.all([loadFactors(), reloadMe()]);
    setSessionsKey((key) => key + 1);
  };

  /** Enrolling needs a step-up when a factor exists; the first one needs a recent sign-in or
   *  the password typed again. */
  const authorizeEnrolment = async <T,>(task: (body: EnrolBody) => Promise<T>): Promise<T> => {
    try {
      return await task({});
    } catch (problem) {
      if (!isProblem(problem, 'step_up_required')) throw problem;
      const hasFactor = !!factors && (factors.totp || factors.passkeys.length > 0);
      if (hasFactor) {
        if (!(await stepUp.confirm('Adding a second factor needs you to confirm it is you.'))) throw new StepUpCancelled();
        return await task({});
      }
      const password = await new Promise<string | null>((resolve) => setPasswordRequest(() => resolve));
      setPasswordRequest(null);
      if (password === null) throw new StepUpCancelled();
      return await task({ password });
    }
  };

  return (
    <Page title="Security">
      <Notice message={notice} />
      <ErrorAlert message={factorsError} />
      {me ? <EmailSection me={me} /> : null}
      {me ? <PasswordSection me={me} onChanged={() => setSessionsKey((key) => key + 1)} /> : null}
      {factors === null && !factorsError ? <Busy label="Loading your security settings…" /> : null}
      {factors ? (
        <>
          <TotpSection
            factors={factors}
            authorize={authorizeEnrolment}
            onEnrolled={async (codes) => {
              setRecoveryCodes(codes);
              await factorChanged('Your authenticator app is set up.');
            }}
            onRemove={() =>
              setConfirmation({
                title: 'Remove the authenticator app?',
                text: 'You will no longer be asked for its codes, and its recovery codes stop working.',
                action: 'Remove authenticator app',
                run: async () => {
                  await stepUp.run(() => api.delete('/v1/me/factors/totp'), 'Removing a second factor needs you to confirm it is you.');
                  setRecoveryCodes(null);
                  await factorChanged('Your authenticator app was removed.');
                },
              })
            }
          />
          {recoveryCodes ? <RecoveryCodes codes={recoveryCodes} onDone={() => setRecoveryCodes(null)} /> : null}
          <PasskeySection
            factors={factors}
            authorize={authorizeEnrolment}
            onAdded={() => factorChanged('Your passkey was added.')}
            onRemove={(id, name) =>
              setConfirmation({
                title: `Remove the passkey “${name}”?`,
                text: 'You will no longer be able to sign in with it.',
                action: 'Remove passkey',
                run: async () => {
                  await stepUp.run(
                    () => api.delete(`/v1/me/factors/passkeys/${encodeURIComponent(id)}`),
                    'Removing a second factor needs you to confirm it is you.',
                  );
                  await factorChanged('The passkey was removed.');
                },
              })
            }
          />
          <RecoverySection
            factors={factors}
            onRegenerated={async (codes) => {
              setRecoveryCodes(codes);
              await loadFactors();
            }}
          />
        </>
      ) : null}
      <SessionsSection key={`sessions-${sessionsKey}`} />
      <EventsSection key={`events-${sessionsKey}`} />
      <DataSection />
      <CloseAccountSection />
      <PasswordDialog request={passwordRequest} />
      <ConfirmDialog confirmation={confirmation} onClose={() => setConfirmation(null)} />
    </Page>
  );
}

function TotpSection({
  factors,
  authorize,
  onEnrolled,
  onRemove,
}: {
  factors: Factors;
  authorize: <T>(task: (body: EnrolBody) => Promise<T>) => Promise<T>;
  onEnrolled: (codes: string[]) => Promise<void>;
  onRemove: () => void;
}) {
  const [enrolment, setEnrolment] = useState<TotpEnrolment | null>(null);
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setEnrolment(await authorize((body) => api.post<TotpEnrolment>('/v1/mfa/totp/enroll', { body })));
    } catch (problem) {
      setError(problem instanceof StepUpCancelled ? 'Not confirmed, so nothing was set up.' : problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  const confirm = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    const digits = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(digits)) {
      setCodeError('Enter the 6 digits your authenticator app shows.');
      return;
    }
    setBusy(true);
    setCodeError(null);
    setError(null);
    try {
      const answer = await api.post<{ recovery_codes: string[] }>('/v1/mfa/totp/confirm', { body: { code: digits } });
      setEnrolment(null);
      setCode('');
      await onEnrolled(answer.recovery_codes);
    } catch (problem) {
      if (isProblem(problem, 'invalid_code')) setCodeError(problemMessage(problem));
      else setError(problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Authenticator app" id="authenticator">
      <ErrorAlert message={error} />
      {factors.totp ? (
        <>
          <p>
            <span className="badge badge-ok">On</span> Signing in asks for a code from your authenticator app.
          </p>
          <button type="button" className="danger" onClick={onRemove}>
            Remove authenticator app
          </button>
        </>
      ) : enrolment ? (
        <>
          <ol className="steps">
            <li>
              Scan this QR code with your authenticator app.
              <QrCode text={enrolment.otpauth_uri} label="QR code to add Strongroom to your authenticator app" />
            </li>
            <li>
              Or type this key into the app:{' '}
              <code className="secret" data-testid="totp-secret">
                {enrolment.secret.replace(/(.{4})(?=.)/g, '$1 ')}
              </code>
            </li>
            <li>
              <form onSubmit={confirm} noValidate>
                <TextField
                  id="totp-confirm-code"
                  label="Enter the 6-digit code the app shows"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  maxLength={8}
                  value={code}
                  onChange={(event) => setCode(event.target.value)}
                  error={codeError}
                />
                <div className="actions">
                  <button type="submit" disabled={busy}>
                    Turn on
                  </button>
                  <button type="button" className="secondary" onClick={() => setEnrolment(null)}>
                    Cancel
                  </button>
                </div>
              </form>
            </li>
          </ol>
        </>
      ) : (
        <>
          <p>
            <span className="badge">Off</span> Add an authenticator app (such as one on your phone) so that a stolen
            password is not enough to get into your account.
          </p>
          <button type="button" onClick={start} disabled={busy}>
            Set up an authenticator app
          </button>
        </>
      )}
    </Section>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const text = `Strongroom recovery codes (each works once)\n\n${codes.join('\n')}\n`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied.');
    } catch {
      setCopied('Copying is not allowed here; write the codes down instead.');
    }
  };
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = 'strongroom-recovery-codes.txt';
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <Section title="Your recovery codes">
      <p className="alert alert-warning">
        Save these codes somewhere safe now: they are shown only once. Each code signs you in once if you lose your
        authenticator app.
      </p>
      <ol className="codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <Notice message={copied} />
      <div className="actions">
        <button type="button" className="secondary" onClick={copy}>
          Copy codes
        </button>
        <button type="button" className="secondary" onClick={download}>
          Download codes
        </button>
        <button type="button" onClick={onDone}>
          I have saved my codes
        </button>
      </div>
    </Section>
  );
}

function PasskeySection({
  factors,
  authorize,
  onAdded,
  onRemove,
}: {
  factors: Factors;
  authorize: <T>(task: (body: EnrolBody) => Promise<T>) => Promise<T>;
  onAdded: () => Promise<void>;
  onRemove: (id: string, name: string) => void;
}) {
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const supported = passkeysSupported();

  const add = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setError(null);
    setNameError(null);
    const trimmed = name.trim();
    if (trimmed !== '' && checkName(trimmed, PASSKEY_NAME_CHARS_MAX)) {
      setNameError(`Use 1 to ${PASSKEY_NAME_CHARS_MAX} characters.`);
      return;
    }
    setBusy(true);
    try {
      const ceremony = await authorize((body) => api.post<Ceremony>('/v1/mfa/webauthn/register/options', { body }));
      const credential = await createCredential(ceremony);
      await api.post('/v1/mfa/webauthn/register', {
        body: { ceremony_id: ceremony.ceremony_id, credential, ...(trimmed !== '' ? { name: trimmed } : {}) },
      });
      setName('');
      await onAdded();
    } catch (problem) {
      if (problem instanceof StepUpCancelled) setError('Not confirmed, so no passkey was added.');
      else if (isProblem(problem, 'validation_failed')) setNameError(`Use 1 to ${PASSKEY_NAME_CHARS_MAX} characters.`);
      else setError(passkeyErrorMessage(problem) ?? problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Passkeys" id="passkeys">
      <p>A passkey signs you in with this device’s screen lock or a security key — no password to type or steal.</p>
      <ErrorAlert message={error} />
      {factors.passkeys.length > 0 ? (
        <ul className="item-list" aria-label="Your passkeys">
          {factors.passkeys.map((passkey) => (
            <li key={passkey.id} className="item">
              <div>
                <strong>{passkey.name}</strong>
                <div className="meta">
                  Added {formatDateTime(passkey.created_at)}
                  {passkey.last_used_at ? ` · last used ${formatDateTime(passkey.last_used_at)}` : ' · not used yet'}
                </div>
              </div>
              <button type="button" className="danger small" onClick={() => onRemove(passkey.id, passkey.name)}>
                Remove<span className="visually-hidden"> passkey {passkey.name}</span>
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p>You have no passkey yet.</p>
      )}
      {supported ? (
        <form onSubmit={add} noValidate className="inline-form">
          <TextField
            id="passkey-name"
            label="Name for the new passkey (optional)"
            hint="To tell your passkeys apart, like “Work laptop”."
            value={name}
            maxLength={PASSKEY_NAME_CHARS_MAX * 2}
            onChange={(event) => setName(event.target.value)}
            error={nameError}
          />
          <div className="actions">
            <button type="submit" disabled={busy}>
              Add a passkey
            </button>
          </div>
        </form>
      ) : (
        <p>This browser cannot create passkeys.</p>
      )}
    </Section>
  );
}

function RecoverySection({ factors, onRegenerated }: { factors: Factors; onRegenerated: (codes: string[]) => Promise<void> }) {
  const stepUp = useStepUp();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!factors.totp && factors.passkeys.length === 0) return null;
  const regenerate = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await stepUp.run(
        () => api.post<{ recovery_codes: string[] }>('/v1/me/recovery-codes'),
        'New recovery codes need you to confirm it is you.',
      );
      await onRegenerated(answer.recovery_codes);
    } catch (problem) {
      setError(problem instanceof StepUpCancelled ? 'Not confirmed, so your codes did not change.' : problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Recovery codes">
      <ErrorAlert message={error} />
      <p>
        You have <strong data-testid="recovery-remaining">{factors.recovery_codes_remaining}</strong> unused recovery
        code{factors.recovery_codes_remaining === 1 ? '' : 's'}. New codes replace all the old ones.
      </p>
      <button type="button" className="secondary" onClick={regenerate} disabled={busy}>
        Get new recovery codes
      </button>
    </Section>
  );
}

function SessionsSection() {
  const { signOut } = useSession();
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const sessions = usePaged<SessionInfo>(
    (cursor) => api.get<ApiPage<SessionInfo>>('/v1/auth/sessions', { query: { limit: SESSIONS_PAGE_LEN, cursor } }),
    'sessions',
  );
  const revoke = async (session: SessionInfo) => {
    setError(null);
    setNotice(null);
    try {
      await api.delete(`/v1/auth/sessions/${encodeURIComponent(session.id)}`);
      setNotice(`${describeDevice(session.user_agent)} (${session.ip}) was signed out.`);
      sessions.reload();
    } catch (problem) {
      setError(problemMessage(problem));
    }
  };
  return (
    <Section title="Where you are signed in">
      <Notice message={notice} />
      <ErrorAlert message={error ?? sessions.error} />
      {sessions.loading && sessions.items.length === 0 ? <Busy label="Loading your sessions…" /> : null}
      <ul className="item-list" aria-label="Your sessions">
        {sessions.items.map((session) => (
          <li key={session.id} className="item" data-testid="session">
            <div>
              <strong>{describeDevice(session.user_agent)}</strong>
              {session.current ? <span className="badge badge-ok">This device</span> : null}
              <div className="meta">
                {session.ip}
                {session.location ? ` · ${session.location}` : ''} · signed in {formatDateTime(session.created_at)} ·
                last active {formatDateTime(session.last_seen_at)}
              </div>
            </div>
            {session.current ? (
              <button type="button" className="secondary small" onClick={() => void signOut()}>
                Sign out
              </button>
            ) : (
              <button type="button" className="danger small" onClick={() => void revoke(session)}>
                Sign out<span className="visually-hidden"> {describeDevice(session.user_agent)} at {session.ip}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      {sessions.hasMore ? (
        <button type="button" className="secondary" onClick={sessions.loadMore} disabled={sessions.loading}>
          Show more sessions
        </button>
      ) : null}
    </Section>
  );
}

function EventsSection() {
  const events = usePaged<SecurityEvent>(
    (cursor) =>
      api.get<ApiPage<SecurityEvent>>('/v1/me/security-events', { query: { limit: EVENTS_PAGE_LEN, cursor } }),
    'events',
  );
  return (
    <Section title="Recent security events">
      <ErrorAlert message={events.error} />
      {events.loading && events.items.length === 0 ? <Busy label="Loading events…" /> : null}
      <ul className="item-list" aria-label="Security events, newest first">
        {events.items.map((event) => (
          <li key={event.id} className="item" data-testid="security-event">
            <div>
              <strong>{describeEvent(event.kind)}</strong>
              <div className="meta">
                {formatDateTime(event.created_at)} · {describeDevice(event.user_agent)} · {event.ip}
              </div>
            </div>
          </li>
        ))}
      </ul>
      {events.hasMore ? (
        <button type="button" className="secondary" onClick={events.loadMore} disabled={events.loading}>
          Show older events
        </button>
      ) : null}
    </Section>
  );
}

function PasswordDialog({ request }: { request: ((password: string | null) => void) | null }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const answer = (value: string | null) => {
    setPassword('');
    setError(null);
    request?.(value);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (password === '') {
      setError('Enter your password.');
      return;
    }
    answer(password);
  };
  return (
    <Dialog open={request !== null} title="Enter your password" onCancel={() => answer(null)}>
      <p>You signed in a while ago. To add your first second factor, enter your password again.</p>
      <form onSubmit={submit} noValidate>
        <TextField
          id="reauth-password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          error={error}
          data-autofocus
        />
        <div className="actions">
          <button type="submit">Continue</button>
          <button type="button" className="secondary" onClick={() => answer(null)}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ConfirmDialog({ confirmation, onClose }: { confirmation: Confirmation | null; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReactNode>(null);
  const go = async () => {
    if (!confirmation) return;
    setBusy(true);
    setError(null);
    try {
      await confirmation.run();
      onClose();
    } catch (problem) {
      setError(problem instanceof StepUpCancelled ? 'Not confirmed, so nothing was changed.' : problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open={confirmation !== null}
      title={confirmation?.title ?? ''}
      onCancel={() => {
        setError(null);
        onClose();
      }}
    >
      <p>{confirmation?.text}</p>
      {error ? (
        <div className="alert alert-error" role="alert">
          {error}
        </div>
      ) : null}
      <div className="actions">
        <button type="button" className="danger" onClick={go} disabled={busy}>
          {confirmation?.action}
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setError(null);
            onClose();
          }}
          data-autofocus
        >
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
