// One account: balance and its history of entries, page by page.

import { useEffect, useState } from 'react';
import type { Account, Entry, Page as ApiPage } from '../api/types';
import { Busy, ErrorAlert, Page } from '../components/ui';
import { problemMessage } from '../errors';
import { formatDateTime } from '../format';
import { usePaged } from '../hooks';
import { formatMinor, formatMoney } from '../money';
import { Link } from '../router';
import { api } from '../services';

export const ENTRIES_PAGE_LEN = 20;

export function AccountPage({ id }: { id: string }) {
  const [account, setAccount] = useState<Account | null>(null);
  const [error, setError] = useState<string | null>(null);
  const entries = usePaged<Entry>(
    (cursor) =>
      api.get<ApiPage<Entry>>(`/v1/accounts/${encodeURIComponent(id)}/entries`, {
        query: { limit: ENTRIES_PAGE_LEN, cursor },
      }),
    id,
  );

  useEffect(() => {
    let live = true;
    setAccount(null);
    setError(null);
    api
      .get<Account>(`/v1/accounts/${encodeURIComponent(id)}`)
      .then((found) => live && setAccount(found))
      .catch((problem: unknown) => live && setError(problemMessage(problem)));
    return () => {
      live = false;
    };
  }, [id]);

  const title = account ? `${account.currency} account` : 'Account';
  return (
    <Page title={title}>
      <p>
        <Link to="/accounts">Back to your accounts</Link>
      </p>
      <ErrorAlert message={error} />
      {account ? (
        <div className="card">
          <p className="balance">
            <span className="visually-hidden">Balance </span>
            {formatMoney(account.balance, account.currency)}
          </p>
          {account.available !== account.balance ? (
            <p className="available">
              {formatMoney(account.available, account.currency)} available:{' '}
              {formatMoney(account.balance - account.available, account.currency)} is reserved for
              payments that have not settled yet.
            </p>
          ) : null}
          <p className="account-id">
            <span className="label">Account id</span> <code>{account.id}</code>
          </p>
          <div className="actions">
            <Link to={`/transfer?from=${account.id}`} className="button">
              Send money
            </Link>
          </div>
        </div>
      ) : null}
      <h2>History</h2>
      <p className="hint">Oldest first, as on a statement.</p>
      <ErrorAlert message={entries.error} />
      {entries.loading && entries.items.length === 0 ? <Busy label="Loading the history…" /> : null}
      {!entries.loading && entries.items.length === 0 && !entries.error ? <p>No money has moved yet.</p> : null}
      {entries.items.length > 0 && account ? (
        <table className="history">
          <caption className="visually-hidden">Money in and out of this account, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">What</th>
              <th scope="col" className="number">
                Amount ({account.currency})
              </th>
              <th scope="col" className="number">
                Balance after
              </th>
            </tr>
          </thead>
          <tbody>
            {entries.items.map((entry) => (
              <tr key={entry.id} data-testid="entry">
                <td data-label="Date">{formatDateTime(entry.created_at)}</td>
                <td data-label="What">
                  {entry.direction === 'credit' ? 'Money in' : 'Money out'}
                  <span className="transfer-id"> · transfer {entry.transfer_id.slice(-8)}</span>
                </td>
                <td data-label="Amount" className={`number ${entry.direction}`}>
                  {entry.direction === 'credit' ? '+' : '−'}
                  {formatMinor(entry.amount, account.currency)}
                </td>
                <td data-label="Balance after" className="number">
                  {formatMinor(entry.balance_after, account.currency)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {entries.hasMore ? (
        <button type="button" className="secondary" onClick={entries.loadMore} disabled={entries.loading}>
          Show later entries
        </button>
      ) : null}
    </Page>
  );
}
