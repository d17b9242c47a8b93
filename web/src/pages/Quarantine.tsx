// The account is quarantined (account protection): what happened, and how to lift it — a
// step-up with a second factor, or an operator when the account has none.

import { useState } from 'react';
import { ErrorAlert, Page } from '../components/ui';
import { problemMessage } from '../errors';
import { useSession } from '../session';
import { useStepUp } from '../stepup';

export function QuarantinePage() {
  const { me, reloadMe, signOut } = useSession();
  const stepUp = useStepUp();
  const [error, setError] = useState<string | null>(null);
  const hasFactor = !!me && (me.mfa.totp || me.mfa.webauthn);

  const lift = async () => {
    setError(null);
    try {
      if (await stepUp.confirm('Confirm it is you to lift the hold on your account.')) await reloadMe();
    } catch (problem) {
      setError(problemMessage(problem));
    }
  };

  return (
    <Page title="Your account is on hold">
      <div className="card">
        <p>
          We noticed activity on your account that did not look like you — for example a sign-in from two distant
          places within a short time, or your session being used from another browser. To protect your money, we
          signed out that session and put your account on hold.
        </p>
        <p>While the account is on hold, nothing can be done with it: no transfers, no changes.</p>
        <h2>How to lift the hold</h2>
        <ErrorAlert message={error} />
        {hasFactor ? (
          <>
            <p>Confirm it is you with your authenticator app or passkey. The hold is lifted at once.</p>
            <div className="actions">
              <button type="button" onClick={lift}>
                Confirm it’s me
              </button>
            </div>
          </>
        ) : (
          <p>
            Your account has no second factor, so only our support team can lift the hold after checking it is
            you. Contact support; two of our staff must agree before the hold is lifted.
          </p>
        )}
        <p>
          If this was not you, your password may be known to someone else: after lifting the hold, review your
          sessions and security events on the Security page.
        </p>
        <div className="actions">
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </div>
    </Page>
  );
}
