// Who is signed in: a silent refresh on load, /v1/me, sign-out from any tab, and the
// quarantine state (a 403 `account_quarantined` from any call, or `status: quarantined`).

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { Me } from './api/types';
import type { SignedOutReason, TokenResponse } from './auth/tokens';
import { PROBLEM_MESSAGES, problemMessage } from './errors';
import { navigate } from './router';
import { api, onQuarantined, tokens } from './services';

export type SessionStatus = 'loading' | 'offline' | 'signed-out' | 'signed-in';

export interface SessionValue {
  status: SessionStatus;
  me: Me | null;
  /** Why the person was signed out, shown on the sign-in page. */
  notice: string | null;
  /** Why the app could not start (status `offline`). */
  failure: string | null;
  quarantined: boolean;
  signIn: (tokens: TokenResponse) => void;
  signOut: () => Promise<void>;
  reloadMe: () => Promise<void>;
  retry: () => void;
  clearNotice: () => void;
  showNotice: (text: string) => void;
}

const SessionContext = createContext<SessionValue | null>(null);

const SIGNED_OUT_NOTICES: Record<SignedOutReason, string> = {
  signed_out: 'You are signed out.',
  other_tab: 'You were signed out in another tab.',
  invalid_refresh_token: 'Your session has ended (it expired or was signed out from another device). Sign in again.',
  refresh_token_reused: PROBLEM_MESSAGES.refresh_token_reused ?? '',
};

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<SessionStatus>('loading');
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [quarantined, setQuarantined] = useState(false);

  const reloadMe = useCallback(async () => {
    try {
      const current = await api.get<Me>('/v1/me');
      setMe(current);
      setQuarantined(current.status === 'quarantined');
      setStatus('signed-in');
    } catch (error) {
      // Signed out meanwhile: the token manager's event says so. Otherwise say what failed.
      if (tokens.signedIn) {
        setFailure(problemMessage(error));
        setStatus('offline');
      }
    }
  }, []);

  const start = useCallback(() => {
    setStatus('loading');
    void tokens.refresh().then((outcome) => {
      if (outcome === 'unavailable') {
        setFailure(PROBLEM_MESSAGES.network_error ?? null);
        setStatus('offline');
      }
    });
  }, []);

  useEffect(() => {
    const stopTokens = tokens.subscribe((event) => {
      if (event.type === 'signed-in') {
        void reloadMe();
        return;
      }
      setMe(null);
      setQuarantined(false);
      setStatus('signed-out');
      // A reused refresh cookie is news even on a fresh load: someone else used this session.
      // Once told, the notice stays: calls that were in flight when the session ended end in
      // further (silent) sign-outs, which must not wipe what the person was told.
      const tell = event.wasSignedIn || event.reason === 'refresh_token_reused';
      if (tell) setNotice(SIGNED_OUT_NOTICES[event.reason]);
      // After a sign-out, start from the sign-in page (not back where the session ended).
      if (event.wasSignedIn) navigate('/signin');
    });
    const stopQuarantine = onQuarantined(() => setQuarantined(true));
    start();
    return () => {
      stopTokens();
      stopQuarantine();
    };
  }, [reloadMe, start]);

  const value = useMemo<SessionValue>(
    () => ({
      status,
      me,
      notice,
      failure,
      quarantined,
      signIn: (received) => {
        setNotice(null);
        tokens.signedInWith(received);
      },
      signOut: () => tokens.signOut(),
      reloadMe,
      retry: start,
      clearNotice: () => setNotice(null),
      showNotice: (text) => setNotice(text),
    }),
    [status, me, notice, failure, quarantined, reloadMe, start],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
