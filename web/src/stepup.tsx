// Step-up (RFC 9470): when the server answers 401 `step_up_required`, a dialog asks for the
// second factor (TOTP code or passkey), then the action is sent again — with the same
// Idempotency-Key for a transfer, so it can never be paid twice.

import { createContext, useCallback, useContext, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { isProblem } from './api/problem';
import type { TokenResponse } from './auth/tokens';
import { Dialog, ErrorAlert, TextField } from './components/ui';
import { problemMessage } from './errors';
import { Link } from './router';
import { api, tokens } from './services';
import { useSession } from './session';
import { getAssertion, passkeyErrorMessage, type Ceremony } from './webauthn';

/** The person closed the dialog: nothing was done. */
export class StepUpCancelled extends Error {
  constructor() {
    super('Step-up cancelled');
    this.name = 'StepUpCancelled';
  }
}

export interface StepUp {
  /** Runs `task`; on `step_up_required` asks for the second factor and runs it once more. */
  run: <T>(task: () => Promise<T>, reason?: string) => Promise<T>;
  /** Asks for the second factor now; true when the session was raised. */
  confirm: (reason?: string) => Promise<boolean>;
}

const StepUpContext = createContext<StepUp | null>(null);

interface Request {
  reason: string;
  resolve: (confirmed: boolean) => void;
}

const DEFAULT_REASON = 'For your safety, confirm it is you before continuing.';

export function StepUpProvider({ children }: { children: ReactNode }) {
  const [request, setRequest] = useState<Request | null>(null);

  const confirm = useCallback(
    (reason?: string) =>
      new Promise<boolean>((resolve) => setRequest({ reason: reason ?? DEFAULT_REASON, resolve })),
    [],
  );

  const run = useCallback(
    async <T,>(task: () => Promise<T>, reason?: string): Promise<T> => {
      try {
        return await task();
      } catch (error) {
        if (!isProblem(error, 'step_up_required')) throw error;
        if (!(await confirm(reason))) throw new StepUpCancelled();
        return await task();
      }
    },
    [confirm],
  );

  const value = useMemo(() => ({ run, confirm }), [run, confirm]);
  const finish = (confirmed: boolean) => {
    request?.resolve(confirmed);
    setRequest(null);
  };
  return (
    <StepUpContext.Provider value={value}>
      {children}
      <Dialog open={request !== null} title="Confirm it’s you" onCancel={() => finish(false)}>
        {request ? <StepUpForm reason={request.reason} onDone={finish} /> : null}
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

  if (!hasTotp && !hasPasskey) {
    return (
      <>
        <p>{reason}</p>
        <p>
          This needs a second factor, and your account has none yet. Add an authenticator app or a passkey on
          the <Link to="/security" onClick={() => onDone(false)}>Security page</Link> first.
        </p>
        <div className="actions">
          <button type="button" className="secondary" onClick={() => onDone(false)}>
            Close
          </button>
        </div>
      </>
    );
  }

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
