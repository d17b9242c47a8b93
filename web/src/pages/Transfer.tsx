// The transfer form: the amount is typed as a decimal in the source account's currency and
// sent as integer minor units. Each submitted form gets one Idempotency-Key, kept while the
// same transfer is retried (double click, network failure, step-up), so it is paid once.

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { isProblem } from '../api/problem';
import type { Account, Page as ApiPage, Transfer } from '../api/types';
import { Busy, ErrorAlert, Notice, Page, SelectField, TextField } from '../components/ui';
import { problemMessage } from '../errors';
import { newIdempotencyKey } from '../format';
import { focusFirstInvalid, useFormErrors } from '../hooks';
import { CURRENCY_MINOR_UNITS, amountErrorMessage, formatMoney, parseAmount } from '../money';
import { Link } from '../router';
import { api } from '../services';
import { useStepUp } from '../stepup';
import { MEMO_CHARS_MAX, charCount, hasControlCharacters } from '../validation';

/** Refusals the ledger keeps with the transfer's Idempotency-Key (docs/api.md). */
const LEDGER_REFUSALS = new Set([
  'not_found',
  'currency_mismatch',
  'same_account',
  'account_frozen',
  'insufficient_funds',
  'validation_failed',
]);

const ACCOUNT_ID_CHARS_MAX = 64;
const TRANSFER_FIELDS = ['from_account_id', 'to_account_id', 'amount', 'currency', 'memo'] as const;

interface TransferBody {
  from_account_id: string;
  to_account_id: string;
  amount: number;
  currency: string;
  memo?: string;
}

export function TransferPage() {
  const stepUp = useStepUp();
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [from, setFrom] = useState(() => new URLSearchParams(window.location.search).get('from') ?? '');
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('');
  const [memo, setMemo] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<Transfer | null>(null);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);
  /** The key of the transfer being sent, with the body it was made for. */
  const pending = useRef<{ body: string; key: string } | null>(null);
  const inFlight = useRef(false);

  useEffect(() => {
    api
      .get<ApiPage<Account>>('/v1/accounts', { query: { limit: 200 } })
      .then((page) => setAccounts(page.items))
      .catch((problem: unknown) => setLoadError(problemMessage(problem)));
  }, []);

  const source = accounts?.find((account) => account.id === from) ?? accounts?.[0] ?? null;
  const currency = source?.currency ?? 'EUR';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // A second click while the first is on its way does nothing (and would reuse its key).
    if (inFlight.current || !source) return;
    errors.clear();
    setSent(null);
    let valid = true;
    const destination = to.trim();
    if (destination === '' || destination.length > ACCOUNT_ID_CHARS_MAX) {
      errors.setField('to_account_id', 'Enter the id of the account to send to.');
      valid = false;
    } else if (destination === source.id) {
      errors.setField('to_account_id', 'Choose an account other than the one you send from.');
      valid = false;
    }
    const parsed = parseAmount(amount, currency);
    if (!parsed.ok) {
      errors.setField('amount', amountErrorMessage(parsed.error, currency));
      valid = false;
    }
    const note = memo.trim();
    if (charCount(note) > MEMO_CHARS_MAX || hasControlCharacters(note)) {
      errors.setField('memo', `Use at most ${MEMO_CHARS_MAX} characters, without line breaks.`);
      valid = false;
    }
    if (!valid || !parsed.ok) {
      focusFirstInvalid(form.current);
      return;
    }
    const body: TransferBody = {
      from_account_id: source.id,
      to_account_id: destination,
      amount: parsed.minor,
      currency,
      ...(note !== '' ? { memo: note } : {}),
    };
    const serialised = JSON.stringify(body);
    if (pending.current?.body !== serialised) pending.current = { body: serialised, key: newIdempotencyKey() };
    const key = pending.current.key;
    inFlight.current = true;
    setBusy(true);
    try {
      const transfer = await stepUp.run(
        () => api.post<Transfer>('/v1/transfers', { body, idempotencyKey: key }),
        'Large transfers need you to confirm it is you.',
      );
      pending.current = null;
      setSent(transfer);
      setAmount('');
      setMemo('');
      setTo('');
      setAccounts((current) =>
        current?.map((account) =>
          account.id === transfer.from_account_id ? { ...account, balance: account.balance - transfer.amount, available: account.available - transfer.amount } : account,
        ) ?? null,
      );
    } catch (problem) {
      // The ledger's refusal is that key's answer for 24 hours (a retry would only replay it):
      // sending the form again, after fixing the cause, is a new attempt with a new key.
      if (isProblem(problem) && LEDGER_REFUSALS.has(problem.code)) pending.current = null;
      if (isProblem(problem, 'not_found')) {
        errors.setField('to_account_id', 'There is no account with this id. Check it with the person you are paying.');
        errors.setMessage('Please correct the highlighted fields.');
      } else if (isProblem(problem, 'currency_mismatch')) {
        errors.setField('to_account_id', problemMessage(problem));
        errors.setMessage('Please correct the highlighted fields.');
      } else if (isProblem(problem, 'same_account')) {
        errors.setField('to_account_id', problemMessage(problem));
        errors.setMessage('Please correct the highlighted fields.');
      } else {
        errors.show(problem, TRANSFER_FIELDS);
      }
      focusFirstInvalid(form.current);
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };

  if (loadError) {
    return (
      <Page title="Send money">
        <ErrorAlert message={loadError} />
      </Page>
    );
  }
  if (accounts === null) {
    return (
      <Page title="Send money">
        <Busy label="Loading your accounts…" />
      </Page>
    );
  }
  if (accounts.length === 0 || !source) {
    return (
      <Page title="Send money">
        <p>
          You need an account first. <Link to="/accounts">Open one</Link>.
        </p>
      </Page>
    );
  }

  return (
    <Page title="Send money">
      <Notice
        message={
          sent
            ? `Sent ${formatMoney(sent.amount, sent.currency)} to account ${sent.to_account_id}. Transfer id ${sent.id}.`
            : null
        }
      />
      {sent ? (
        <p>
          <Link to={`/accounts/${sent.from_account_id}`}>See the history of this account</Link>
        </p>
      ) : null}
      <form ref={form} onSubmit={submit} noValidate className="narrow">
        <ErrorAlert message={errors.message} />
        <SelectField
          id="from_account_id"
          label="From"
          value={source.id}
          onChange={(event) => setFrom(event.target.value)}
          error={errors.fields.from_account_id}
        >
          {accounts.map((account) => (
            <option key={account.id} value={account.id}>
              {account.currency} account, balance {formatMoney(account.balance, account.currency)}
              {account.available !== account.balance
                ? `, ${formatMoney(account.available, account.currency)} available`
                : ''}
            </option>
          ))}
        </SelectField>
        <TextField
          id="to_account_id"
          label="To account id"
          hint="The recipient finds it on their Accounts page."
          autoComplete="off"
          spellCheck={false}
          value={to}
          onChange={(event) => setTo(event.target.value)}
          error={errors.fields.to_account_id}
        />
        <TextField
          id="amount"
          label={`Amount (${currency})`}
          hint={`For example 12.50. ${currency} amounts have ${currencyDecimalsText(currency)}.`}
          inputMode="decimal"
          autoComplete="off"
          value={amount}
          onChange={(event) => setAmount(event.target.value)}
          error={errors.fields.amount ?? errors.fields.currency}
        />
        <TextField
          id="memo"
          label="Note for the recipient (optional)"
          maxLength={MEMO_CHARS_MAX * 2}
          value={memo}
          onChange={(event) => setMemo(event.target.value)}
          error={errors.fields.memo}
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Sending…' : 'Send money'}
          </button>
        </div>
      </form>
    </Page>
  );
}

function currencyDecimalsText(currency: string): string {
  const decimals = CURRENCY_MINOR_UNITS[currency] ?? 2;
  return decimals === 0 ? 'no decimals' : `up to ${decimals} decimal${decimals === 1 ? '' : 's'}`;
}
