// Verify email, from the link in the mail (`/verify-email#token=...`), signed in or not. The
// token is read from the fragment and removed from the address bar; a button sends it (so a
// mail scanner that opens links does not use it up). For an email change, the new address
// becomes the sign-in address now.

import { useState } from 'react';
import { isProblem } from '../api/problem';
import { ErrorAlert, Notice, Page } from '../components/ui';
import { problemMessage } from '../errors';
import { Link } from '../router';
import { api } from '../services';
import { useSession } from '../session';
import { useLinkToken } from '../hooks';

type State = { kind: 'ready' } | { kind: 'done' } | { kind: 'failed'; message: string; dead: boolean };

export function VerifyEmailPage() {
  const { status, me, reloadMe } = useSession();
  const token = useLinkToken();
  const [state, setState] = useState<State>({ kind: 'ready' });
  const [busy, setBusy] = useState(false);
  const signedIn = status === 'signed-in';

  const verify = async () => {
    if (busy || token === null) return;
    setBusy(true);
    try {
      await api.post('/v1/auth/email/verify', { auth: false, body: { token } });
      if (signedIn) await reloadMe();
      setState({ kind: 'done' });
    } catch (problem) {
      setState({
        kind: 'failed',
        message: problemMessage(problem),
        dead: isProblem(problem, 'invalid_verification_token'),
      });
    } finally {
      setBusy(false);
    }
  };

  const askAgain = signedIn ? (
    <p>
      You can ask for a new link in your <Link to="/security#email">security settings</Link>.
    </p>
  ) : (
    <p>
      <Link to="/signin">Sign in</Link> to ask for a new link in your security settings.
    </p>
  );

  if (token === null) {
    return (
      <Page title="Verify your email address">
        <ErrorAlert message="This link is incomplete. Open the link from the email again, or ask for a new one." />
        {askAgain}
      </Page>
    );
  }

  return (
    <Page title="Verify your email address">
      <Notice
        message={
          state.kind === 'done'
            ? signedIn && me
              ? `Your email address is verified. You sign in with ${me.email}.`
              : 'Your email address is verified. If you changed it, sign in with the new address from now on.'
            : null
        }
      />
      {state.kind === 'failed' ? <ErrorAlert message={state.message} /> : null}
      {state.kind === 'done' ? (
        <p>{signedIn ? <Link to="/security">Back to your security settings</Link> : <Link to="/signin">Sign in</Link>}</p>
      ) : state.kind === 'failed' && state.dead ? (
        askAgain
      ) : (
        <>
          <p>Confirm that this email address is yours, so that Strongroom can reach you about your account.</p>
          <div className="actions">
            <button type="button" onClick={verify} disabled={busy}>
              {state.kind === 'failed' ? 'Try again' : 'Verify my email address'}
            </button>
          </div>
        </>
      )}
    </Page>
  );
}
