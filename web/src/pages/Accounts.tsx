// Accounts with balances; opening an account in a currency.

import { useState, type FormEvent } from 'react';
import { isProblem } from '../api/problem';
import type { Account, Page as ApiPage } from '../api/types';
import { Busy, ErrorAlert, Notice, Page, Section, SelectField } from '../components/ui';
import { problemMessage } from '../errors';
import { usePaged } from '../hooks';
import { formatMoney, OPENABLE_CURRENCIES } from '../money';
import { Link } from '../router';
import { api } from '../services';
import { useSession } from '../session';

export const ACCOUNTS_PAGE_LEN = 50;

export function AccountsPage() {
  const { me } = useSession();
  const accounts = usePaged<Account>(
    (cursor) => api.get<ApiPage<Account>>('/v1/accounts', { query: { limit: ACCOUNTS_PAGE_LEN, cursor } }),
    'accounts',
  );
  const held = new Set(accounts.items.map((account) => account.currency));
  const openable = OPENABLE_CURRENCIES.filter((currency) => !held.has(currency));

  return (
    <Page title="Your accounts">
      {me ? <p>Welcome, {me.display_name}.</p> : null}
      <ErrorAlert message={accounts.error} />
      {accounts.loading && accounts.items.length === 0 ? <Busy label="Loading your accounts…" /> : null}
      {!accounts.loading && accounts.items.length === 0 && !accounts.error ? (
        <p>You have no account yet. Open one below to receive money.</p>
      ) : null}
      <ul className="account-list">
        {accounts.items.map((account) => (
          <li key={account.id} className="card account">
            <h2 className="account-title">
              <Link to={`/accounts/${account.id}`}>{account.currency} account</Link>
            </h2>
            <p className="balance">
              <span className="visually-hidden">Balance </span>
              {formatMoney(account.balance, account.currency)}
            </p>
            {account.available !== account.balance ? (
              <p className="available">{formatMoney(account.available, account.currency)} available</p>
            ) : null}
            {account.status !== 'active' ? <p className="badge badge-warning">{statusText(account.status)}</p> : null}
            <p className="account-id">
              <span className="label">Account id</span> <code data-testid="account-id">{account.id}</code>
            </p>
            <p className="hint">Give this id to people who send you {account.currency}.</p>
            <div className="actions">
              <Link to={`/accounts/${account.id}`} className="button secondary">
                History<span className="visually-hidden"> of the {account.currency} account</span>
              </Link>
              <Link to={`/transfer?from=${account.id}`} className="button secondary">
                Send<span className="visually-hidden"> from the {account.currency} account</span>
              </Link>
            </div>
          </li>
        ))}
      </ul>
      {accounts.hasMore ? (
        <button type="button" className="secondary" onClick={accounts.loadMore} disabled={accounts.loading}>
          Show more accounts
        </button>
      ) : null}
      {openable.length > 0 && !accounts.loading ? <OpenAccount currencies={openable} onOpened={accounts.reload} /> : null}
    </Page>
  );
}

function statusText(status: string): string {
  if (status === 'frozen') return 'Frozen: it can receive money but not send it.';
  return `Status: ${status}`;
}

function OpenAccount({ currencies, onOpened }: { currencies: readonly string[]; onOpened: () => void }) {
  const [currency, setCurrency] = useState(currencies[0] ?? 'EUR');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const selected = currencies.includes(currency) ? currency : (currencies[0] ?? 'EUR');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await api.post<Account>('/v1/accounts', { body: { currency: selected } });
      setDone(`Your ${selected} account is open.`);
      onOpened();
    } catch (problem) {
      setError(
        isProblem(problem, 'validation_failed') ? 'This currency is not offered by this Strongroom.' : problemMessage(problem),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Open an account">
      <Notice message={done} />
      <form onSubmit={submit} noValidate className="inline-form">
        <ErrorAlert message={error} />
        <SelectField id="currency" label="Currency" value={selected} onChange={(event) => setCurrency(event.target.value)}>
          {currencies.map((code) => (
            <option key={code} value={code}>
              {code}
            </option>
          ))}
        </SelectField>
        <div className="actions">
          <button type="submit" disabled={busy}>
            Open account
          </button>
        </div>
      </form>
    </Section>
  );
}
