// Talking to the test server from Node: the public API (to create users quickly) and the
// internal mutual-TLS API as an operator's systems would use it: deposits and withdrawals by
// the `payments` service, and the notifications outbox read as the operator's mailer would.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { PASSWORD } from './fixtures';

function dir(): string {
  const value = process.env.STRONGROOM_DIR;
  if (!value) throw new Error('STRONGROOM_DIR is not set: run through playwright test');
  return value;
}

interface Answer {
  status: number;
  body: unknown;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A plain GET against the public listener, trusting only the test server's CA. */
export function getRaw(pathAndQuery: string): Promise<RawAnswer> {
  const target = new URL(pathAndQuery, process.env.STRONGROOM_URL);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: 'GET',
        ca: readFileSync(path.join(dir(), 'pki', 'ca.pem')),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({ status: response.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

function send(url: string, method: string, body: unknown, headers: Record<string, string>, client: boolean): Promise<Answer> {
  const pki = path.join(dir(), 'pki');
  const target = new URL(url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        servername: 'localhost',
        ca: readFileSync(path.join(pki, 'ca.pem')),
        ...(client
          ? {
              cert: readFileSync(path.join(pki, 'clients/payments.pem')),
              key: readFileSync(path.join(pki, 'clients/payments.key')),
            }
          : {}),
        headers: {
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : null });
        });
      },
    );
    outgoing.on('error', reject);
    if (payload !== undefined) outgoing.write(payload);
    outgoing.end();
  });
}

/** Registers a user through the public API (no browser needed for that part). */
export async function registerUser(email: string, displayName: string, password = PASSWORD): Promise<void> {
  const answer = await send(
    `${process.env.STRONGROOM_URL}/v1/auth/register`,
    'POST',
    { email, password, display_name: displayName },
    {},
    false,
  );
  if (answer.status !== 201) throw new Error(`register ${email}: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** Deposits through the internal API with the `payments` service's client certificate. */
export async function deposit(accountId: string, amountMinor: number, currency: string): Promise<void> {
  const answer = await send(
    `${process.env.STRONGROOM_INTERNAL_URL}/internal/v1/deposits`,
    'POST',
    { account_id: accountId, amount: amountMinor, currency, external_ref: `e2e-${randomUUID()}` },
    { 'idempotency-key': randomUUID() },
    true,
  );
  if (answer.status !== 201) throw new Error(`deposit: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** Presents a browser's refresh cookie from another browser and system, as a thief replaying
 *  a stolen cookie would: account protection kills the session and puts the account on hold.
 *  Returns the server's status. */
export async function replayRefreshCookieElsewhere(cookie: string): Promise<number> {
  const answer = await send(
    `${process.env.STRONGROOM_URL}/v1/auth/refresh`,
    'POST',
    undefined,
    {
      cookie: `__Host-strongroom_rt=${cookie}`,
      'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0',
    },
    false,
  );
  return answer.status;
}

/** Withdraws through the internal API with the `payments` service's client certificate. */
export async function withdraw(accountId: string, amountMinor: number, currency: string): Promise<void> {
  const answer = await send(
    `${process.env.STRONGROOM_INTERNAL_URL}/internal/v1/withdrawals`,
    'POST',
    { account_id: accountId, amount: amountMinor, currency, external_ref: `e2e-${randomUUID()}` },
    { 'idempotency-key': randomUUID() },
    true,
  );
  if (answer.status !== 201) throw new Error(`withdraw: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** One notification of the outbox (`GET /internal/v1/outbox`). */
export interface Notification {
  id: string;
  user_id: string;
  kind: string;
  created_at: string;
  data: Record<string, unknown>;
}

interface OutboxPage {
  items: Notification[];
  next_cursor: string | null;
}

const OUTBOX_PAGE_LEN = 500;

/** Every notification not yet acknowledged, oldest first, read page by page with the mailer's
 *  scope (`notifications:read`). Nothing is acknowledged: the specs share one outbox. */
export async function outbox(): Promise<Notification[]> {
  const items: Notification[] = [];
  let after: string | null = null;
  for (;;) {
    const query = new URLSearchParams({ limit: String(OUTBOX_PAGE_LEN) });
    if (after !== null) query.set('after', after);
    const answer = await send(`${process.env.STRONGROOM_INTERNAL_URL}/internal/v1/outbox?${query}`, 'GET', undefined, {}, true);
    if (answer.status !== 200) throw new Error(`outbox: ${answer.status} ${JSON.stringify(answer.body)}`);
    const page = answer.body as OutboxPage;
    items.push(...page.items);
    if (page.next_cursor === null || page.items.length === 0) return items;
    after = page.next_cursor;
  }
}

/** The mails of `kind` to `to`, oldest first. */
export async function mailsTo(kind: string, to: string): Promise<Notification[]> {
  return (await outbox()).filter((item) => item.kind === kind && item.data.to === to);
}

/** The link a mailer builds from a token notification, with the shapes the web app handles:
 *  `/reset-password#token=...` for `password_reset`, `/verify-email#token=...` for
 *  `verify_email` (the token in the fragment never reaches a server log or a Referer). */
export function linkOf(mail: Notification): string {
  const token = mail.data.token;
  if (typeof token !== 'string') throw new Error(`${mail.kind} mail without a token`);
  const page = mail.kind === 'password_reset' ? '/reset-password' : mail.kind === 'verify_email' ? '/verify-email' : null;
  if (page === null) throw new Error(`no link for a ${mail.kind} mail`);
  return `${page}#token=${encodeURIComponent(token)}`;
}
