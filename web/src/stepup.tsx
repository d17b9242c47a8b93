// Step-up (RFC 9470): when the server answers 401 `step_up_required`, a dialog asks for the
// second factor (TOTP code or passkey), then the action is sent again — with the same
// Idempotency-Key for a transfer, so it can never be paid twice. When the account has no second
// factor the server answers 403 `mfa_enrollment_required` instead: the dialog then offers to set
// one up (the Security page's authenticator app and passkey sections), never a dead end.

import { createContext, useCallback, useContext, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { isProblem } from './api/problem';
import type { TokenResponse } from './auth/tokens';
import { Dialog, ErrorAlert, TextField } from './components/ui';
import { problemMessage } from './errors';
import { Link } from './router';
import { api, tokens } from './services';
import { useSession } from './session';
import { getAssertion, passkeyErrorMessage, passkeysSupported, type Ceremony } from './webauthn';

/** The person closed the dialog: nothing was done. */
export class StepUpCancelled extends Error {
  constructor() {
    super('Step-up cancelled');
    this.name = 'StepUpCancelled';
  }
}

export interface StepUp {
  /** Runs `task`; on `step_up_required` asks for the second factor and runs it once more. On
   *  `mfa_enrollment_required` offers to set up a second factor and rethrows the problem (so
   *  the page says, through errors.ts, that nothing was done and why). */
  run: <T>(task: () => Promise<T>, reason?: string) => Promise<T>;
  /** Asks for the second factor now; true when the session was raised. */
  confirm: (reason?: string) => Promise<boolean>;
  /** Tells the person this needs a second factor they do not have yet, with the way to add one. */
  offerEnrolment: (reason?: string) => void;
}

/** Where the Security page's set-up sections are: `/security#authenticator`, `#passkeys`. */
export const ENROL_AUTHENTICATOR_PATH = '/security#authenticator';
export const ENROL_PASSKEY_PATH = '/security#passkeys';

const StepUpContext = createContext<StepUp | null>(null);

interface Request {
  /** `confirm`: ask for the second factor; `enrol`: there is none, offer to add one. */
  kind: 'confirm' | 'enrol';
  reason: string;
  resolve: (confirmed: boolean) => void;
}

const DEFAULT_REASON = 'For your safety, confirm it is you before continuing.';

export function StepUpProvider({ children }: { children: ReactNode }) {
  const [request, setRequest] = useState<Request | null>(null);

  const confirm = useCallback(
    (reason?: string) =>
      new Promise<boolean>((resolve) => setRequest({ kind: 'confirm', reason: reason ?? DEFAULT_REASON, resolve })),
    [],
  );

  const offerEnrolment = useCallback((reason?: string) => {
    setRequest({ kind: 'enrol', reason: reason ?? DEFAULT_REASON, resolve: () => undefined });
  }, []);

  const run = useCallback(
    async <T,>(task: () => Promise<T>, reason?: string): Promise<T> => {
      const attempt = async (): Promise<T> => {
        try {
          return await task();
        } catch (error) {
          if (isProblem(error, 'mfa_enrollment_required')) offerEnrolment(reason);
          throw error;
        }
      };
      try {
        return await attempt();
      } catch (error) {
        if (!isProblem(error, 'step_up_required')) throw error;
        if (!(await confirm(reason))) throw new StepUpCancelled();
        return await attempt();
      }
    },
    [confirm, offerEnrolment],
  );

  const value = useMemo(() => ({ run, confirm, offerEnrolment }), [run, confirm, offerEnrolment]);
  const finish = (confirmed: boolean) => {
    request?.resolve(confirmed);
    setRequest(null);
  };
  return (
    <StepUpContext.Provider value={value}>
      {children}
      <Dialog
        open={request !== null}
        title={request?.kind === 'enrol' ? 'Set up a second factor first' : 'Confirm it’s you'}
        onCancel={() => finish(false)}
      >
        {request?.kind === 'enrol' ? <EnrolmentOffer reason={request.reason} onDone={() => finish(false)} /> : null}
        {request?.kind === 'confirm' ? <StepUpForm reason={request.reason} onDone={finish} /> : null}
      </Dialog>
    </StepUpContext.Provider>
  );
}

export function useStepUp(): StepUp {
  const value = useContext(StepUpContext);
  if (!value) throw new Error('useStepUp outside StepUpProvider');
  return value;
}

function StepUpForm({ reason, onDone }: { reason: string; onDone: (confirmed: boolean) => void }) {
  const { me, reloadMe } = useSession();
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const sending = useRef(false);
  const hasTotp = me?.mfa.totp ?? false;
  const hasPasskey = me?.mfa.webauthn ?? false;

  const raised = async (fresh: TokenResponse) => {
    tokens.replace(fresh);
    await reloadMe();
    onDone(true);
  };

  const submitCode = async (event: FormEvent) => {
    event.preventDefault();
    const digits = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(digits)) {
      setCodeError('Enter the 6 digits your authenticator app shows.');
      return;
    }
    if (sending.current) return;
    sending.current = true;
    setBusy(true);
    setCodeError(null);
    setError(null);
    try {
      await raised(await api.post<TokenResponse>('/v1/auth/step-up/totp', { body: { code: digits } }));
    } catch (problem) {
      if (isProblem(problem, 'invalid_code')) setCodeError(problemMessage(problem));
      else setError(problemMessage(problem));
    } finally {
      sending.current = false;
      setBusy(false);
    }
  };

  const usePasskey = async () => {
    if (sending.current) return;
    sending.current = true;
    setBusy(true);
    setError(null);
    try {
      const ceremony = await api.post<Ceremony>('/v1/auth/step-up/webauthn/options');
      const credential = await getAssertion(ceremony);
      await raised(
        await api.post<TokenResponse>('/v1/auth/step-up/webauthn', {
          body: { ceremony_id: ceremony.ceremony_id, credential },
        }),
      );
    } catch (problem) {
      setError(passkeyErrorMessage(problem) ?? problemMessage(problem));
    } finally {
      sending.current = false;
      setBusy(false);
    }
  };

  if (!hasTotp && !hasPasskey) return <EnrolmentOffer reason={reason} onDone={() => onDone(false)} />;

  return (
    <>
      <p>{reason}</p>
      <ErrorAlert message={error} />
      {hasTotp ? (
        <form onSubmit={submitCode} noValidate>
          <TextField
            id="step-up-code"
            label="Code from your authenticator app"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={8}
            value={code}
            onChange={(event) => setCode(event.target.value)}
            error={codeError}
            data-autofocus
          />
          <div className="actions">
            <button type="submit" disabled={busy}>
              Confirm
            </button>
            <button type="button" className="secondary" onClick={() => onDone(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
      {hasPasskey ? (
        <div className="actions">
          <button type="button" className={hasTotp ? 'secondary' : undefined} onClick={usePasskey} disabled={busy}>
            Use a passkey
          </button>
          {hasTotp ? null : (
            <button type="button" className="secondary" onClick={() => onDone(false)}>
              Cancel
            </button>
          )}
        </div>
      ) : null}
    </>
  );
}

/** No second factor yet: what it is for, and links straight to setting one up. */
function EnrolmentOffer({ reason, onDone }: { reason: string; onDone: () => void }) {
  return (
    <>
      <p>{reason}</p>
      <p>
        This needs a second factor, and your account has none yet. Add an authenticator app or a passkey on the
        Security page, then try again. Nothing was changed.
      </p>
      <div className="actions">
        <Link to={ENROL_AUTHENTICATOR_PATH} className="button" onClick={onDone} data-autofocus>
          Set up an authenticator app
        </Link>
        {passkeysSupported() ? (
          <Link to={ENROL_PASSKEY_PATH} className="button secondary" onClick={onDone}>
            Add a passkey
          </Link>
        ) : null}
        <button type="button" className="secondary" onClick={onDone}>
          Not now
        </button>
      </div>
    </>
  );
}
