// The app shell: skip link, header with navigation, and the page for the current path —
// sign-in pages when signed out, the quarantine page when the account is on hold.

import { useEffect, type ReactNode } from 'react';
import { Busy, ErrorAlert, Page } from './components/ui';
import { Link, match, navigate, usePath, useVisit } from './router';
import { AccountPage } from './pages/Account';
import { AccountsPage } from './pages/Accounts';
import { ForgotPasswordPage } from './pages/ForgotPassword';
import { NotFoundPage } from './pages/NotFound';
import { ProfilePage } from './pages/Profile';
import { QuarantinePage } from './pages/Quarantine';
import { ResetPasswordPage } from './pages/ResetPassword';
import { SecurityPage } from './pages/Security';
import { SignInPage } from './pages/SignIn';
import { SignUpPage } from './pages/SignUp';
import { TransferPage } from './pages/Transfer';
import { VerifyEmailPage } from './pages/VerifyEmail';
import { useSession } from './session';

const PUBLIC_PATHS = ['/signin', '/signup', '/forgot-password'];
const HOME = '/accounts';
/** Where a signed-out visitor was going: shown after they sign in. */
let returnTo: string | null = null;

const NAVIGATION = [
  { to: '/accounts', label: 'Accounts' },
  { to: '/transfer', label: 'Send money' },
  { to: '/profile', label: 'Profile' },
  { to: '/security', label: 'Security' },
];

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function Header() {
  const { status, me, signOut } = useSession();
  const path = usePath();
  return (
    <header className="site-header">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="header-inner">
        <Link to="/" className="brand">
          Strongroom
        </Link>
        {status === 'signed-in' ? (
          <nav aria-label="Main">
            <ul>
              {NAVIGATION.map((item) => (
                <li key={item.to}>
                  <Link to={item.to} aria-current={path.startsWith(item.to) ? 'page' : undefined}>
                    {item.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        {status === 'signed-in' ? (
          <div className="who">
            <span className="who-name">{me?.display_name}</span>
            <button type="button" className="secondary small" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        ) : null}
      </div>
    </header>
  );
}

function Content(): ReactNode {
  const { status, quarantined, retry, failure } = useSession();
  const path = usePath();
  if (status === 'loading') return <Busy label="Loading Strongroom…" />;
  if (status === 'offline') {
    return (
      <Page title="Strongroom could not start">
        <ErrorAlert message={failure} />
        <button type="button" onClick={retry}>
          Try again
        </button>
      </Page>
    );
  }
  // Links from mails: they work signed in or not.
  if (path === '/reset-password') return <ResetPasswordPage />;
  if (path === '/verify-email') return <VerifyEmailPage />;
  if (status === 'signed-out') {
    if (path === '/signup') return <SignUpPage />;
    if (path === '/forgot-password') return <ForgotPasswordPage />;
    if (path !== '/signin') {
      if (path !== '/') returnTo = path;
      return <Redirect to="/signin" />;
    }
    return <SignInPage />;
  }
  if (quarantined) return <QuarantinePage />;
  if (path === '/' || PUBLIC_PATHS.includes(path)) {
    const target = returnTo ?? HOME;
    returnTo = null;
    return <Redirect to={target} />;
  }
  if (path === '/accounts') return <AccountsPage />;
  const account = match('/accounts/:id', path);
  if (account?.id) return <AccountPage id={account.id} />;
  if (path === '/transfer') return <TransferPage />;
  if (path === '/profile') return <ProfilePage />;
  if (path === '/security') return <SecurityPage />;
  return <NotFoundPage />;
}

export function App() {
  const visit = useVisit();
  return (
    <>
      <Header />
      <main id="main" tabIndex={-1}>
        <Content key={visit} />
      </main>
      <footer className="site-footer">
        <p>Strongroom keeps your money and your data safe. Your session is held only in this tab’s memory.</p>
      </footer>
    </>
  );
}
