// Deposit through the internal API, transfer to another user, see both histories; amounts
// checked before sending and by the server; one transfer per submitted form; step-up on a
// large transfer.

import type { Page } from '@playwright/test';
import { enrolTotp, expectSignedIn, goTo, openAccount, signIn } from './support/flows';
import { expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { deposit, registerUser } from './support/server';

async function transferForm(page: Page, to: string, amount: string, memo = ''): Promise<void> {
  await goTo(page, 'Send money');
  await expect(page.getByRole('heading', { level: 1, name: 'Send money' })).toBeVisible();
  await page.getByLabel('To account id').fill(to);
  await page.getByLabel(/^Amount/).fill(amount);
  await page.getByLabel('Note for the recipient (optional)').fill(memo);
}

test('money moves between two customers and both histories show it', async ({ newContext }, testInfo) => {
  const payerEmail = uniqueEmail('grace');
  const payeeEmail = uniqueEmail('alan');
  await registerUser(payerEmail, 'Grace Hopper');
  await registerUser(payeeEmail, 'Alan Turing');
  const payer = await (await newContext()).newPage();
  const payee = await (await newContext()).newPage();

  await signIn(payer, payerEmail);
  await expectSignedIn(payer);
  await signIn(payee, payeeEmail);
  await expectSignedIn(payee);
  const payerAccount = await openAccount(payer, 'EUR');
  const payeeAccount = await openAccount(payee, 'EUR');
  await openAccount(payer, 'USD');

  // The payments service deposits over mutual TLS; the customer sees it on reload.
  await deposit(payerAccount, 250_000, 'EUR');
  await payer.reload();
  const eurCard = payer.getByRole('listitem').filter({ hasText: 'EUR account' });
  await expect(eurCard.getByText('EUR 2,500.00')).toBeVisible();
  await expectAccessible(payer, 'accounts with balances');
  await screenshot(payer, 'accounts', testInfo);

  // Bad amounts never leave the browser.
  const transfers: string[] = [];
  payer.on('request', (request) => {
    if (request.url().endsWith('/v1/transfers') && request.method() === 'POST') transfers.push(request.postData() ?? '');
  });
  for (const [amount, message] of [
    ['12.345', 'EUR amounts have at most 2 decimals.'],
    ['0', 'Enter an amount greater than zero.'],
    ['-5', 'Enter an amount greater than zero.'],
    ['10000000000000.01', 'larger than Strongroom allows'],
    ['12,50', 'using digits and a dot'],
  ] as const) {
    await transferForm(payer, payeeAccount, amount);
    await payer.getByRole('button', { name: 'Send money' }).click();
    await expect(payer.locator('#amount-error')).toContainText(message);
  }
  expect(transfers).toEqual([]);

  // With the client's checks bypassed, the server's refusal appears next to the field.
  await transferForm(payer, payeeAccount, '1.00');
  await payer.route('**/v1/transfers', async (route) => {
    const body = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>;
    await route.continue({ postData: JSON.stringify({ ...body, amount: 0 }) });
  });
  await payer.getByRole('button', { name: 'Send money' }).click();
  await expect(payer.locator('#amount-error')).toContainText('This amount is not allowed');
  await payer.unroute('**/v1/transfers');
  await expectAccessible(payer, 'transfer form with a server error');

  // A double click pays once: one Idempotency-Key per submitted form.
  transfers.length = 0;
  const keys: string[] = [];
  payer.on('request', (request) => {
    if (request.url().endsWith('/v1/transfers') && request.method() === 'POST') keys.push(request.headers()['idempotency-key'] ?? '');
  });
  await transferForm(payer, payeeAccount, '12.50', 'Lunch');
  await screenshot(payer, 'transfer', testInfo);
  await payer.getByRole('button', { name: 'Send money' }).dblclick();
  await expect(payer.getByRole('status').filter({ hasText: 'Sent EUR 12.50' })).toBeVisible();
  expect(new Set(keys).size).toBe(1);
  expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);

  // Transfers above the step-up amount (1,000.00) need the second factor.
  const { authenticator } = await enrolTotp(payer);
  await payer.getByRole('button', { name: 'I have saved my codes' }).click();
  await transferForm(payer, payeeAccount, '1500.00', 'Rent');
  await payer.getByRole('button', { name: 'Send money' }).click();
  const dialog = payer.getByRole('dialog', { name: 'Confirm it’s you' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Large transfers need you to confirm it is you.');
  await expectAccessible(payer, 'step-up dialog');
  await screenshot(payer, 'step-up', testInfo);
  await dialog.getByLabel('Code from your authenticator app').fill(await authenticator.code());
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(payer.getByRole('status').filter({ hasText: 'Sent EUR 1,500.00' })).toBeVisible();
  expect(new Set(keys).size, 'the step-up retry reused its key').toBe(2);

  // Not enough money: said in words.
  await transferForm(payer, payeeAccount, '999.00');
  await payer.getByRole('button', { name: 'Send money' }).click();
  await expect(payer.getByRole('alert')).toContainText('There is not enough money available in the source account');
  // That refusal is its key's answer for 24 hours: sending the form again is a new attempt
  // with a new key, decided afresh (not a replay of the first answer).
  const again = payer.waitForResponse((r) => r.url().endsWith('/v1/transfers') && r.request().method() === 'POST');
  await payer.getByRole('button', { name: 'Send money' }).click();
  const answer = await again;
  expect(answer.status()).toBe(422);
  expect(answer.headers()['idempotent-replayed']).toBeUndefined();
  expect(new Set(keys).size, 'a refused transfer sent again gets a new key').toBe(4);

  // Both histories.
  await goTo(payer, 'Accounts');
  await payer.getByRole('link', { name: 'EUR account', exact: true }).click();
  await expect(payer.getByRole('heading', { level: 1, name: 'EUR account' })).toBeVisible();
  const payerEntries = payer.getByTestId('entry');
  await expect(payerEntries).toHaveCount(3);
  await expect(payerEntries.nth(0)).toContainText('Money in');
  await expect(payerEntries.nth(0)).toContainText('+2,500.00');
  await expect(payerEntries.nth(1)).toContainText('−12.50');
  await expect(payerEntries.nth(1)).toContainText('2,487.50');
  await expect(payerEntries.nth(2)).toContainText('Money out');
  await expect(payerEntries.nth(2)).toContainText('−1,500.00');
  await expect(payerEntries.nth(2)).toContainText('987.50');
  await expect(payer.getByText('EUR 987.50')).toBeVisible();
  await expectAccessible(payer, 'account history');
  await screenshot(payer, 'history', testInfo);

  await goTo(payee, 'Accounts');
  await expect(payee.getByRole('listitem').filter({ hasText: 'EUR account' }).getByText('EUR 1,512.50')).toBeVisible();
  await payee.getByRole('link', { name: 'EUR account', exact: true }).click();
  const payeeEntries = payee.getByTestId('entry');
  await expect(payeeEntries).toHaveCount(2);
  await expect(payeeEntries.nth(0)).toContainText('Money in');
  await expect(payeeEntries.nth(0)).toContainText('+12.50');
  await expect(payeeEntries.nth(1)).toContainText('+1,500.00');
  await expect(payeeEntries.nth(1)).toContainText('1,512.50');
});
