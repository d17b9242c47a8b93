// The account lifecycle, following the links of the mails the operator's mailer would send
// (read from the notifications outbox over mutual TLS): a forgotten password reset from its
// link (the second factor still asked), email verification signed in and out, changing the
// password and the email address, downloading one's data, closing the account, and the offer
// to set up a second factor where one is needed and missing.

import { readFile } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import { enrolTotp, expectSignedIn, goTo, openAccount, signIn, signOut } from './support/flows';
import { expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { deposit, linkOf, mailsTo, registerUser, withdraw, type Notification } from './support/server';

const NEW_PASSWORD = 'a rather longer passphrase, 2026';

/** The newest mail of `kind` to `to`, once at least `count` of them were written (tokens for
 *  `forgot` and registration are written just after the answer). */
async function mail(kind: string, to: string, count = 1): Promise<Notification> {
  await expect
    .poll(async () => (await mailsTo(kind, to)).length, { message: `${count} ${kind} mail(s) to ${to}` })
    .toBeGreaterThanOrEqual(count);
  const mails = await mailsTo(kind, to);
  const newest = mails[mails.length - 1];
  if (!newest) throw new Error(`no ${kind} mail to ${to}`);
  return newest;
}

async function securityPage(page: Page): Promise<void> {
  await goTo(page, 'Security');
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
}

async function stepUpWith(page: Page, code: string, reason: string): Promise<void> {
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
  await expect(dialog).toContainText(reason);
  await dialog.getByLabel('Code from your authenticator app').fill(code);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(dialog).toBeHidden();
}

test('forgot password: the mailed link sets a new one, and sign-in still asks for the second factor', async ({
  page,
}, testInfo) => {
  const email = uniqueEmail('katherine');
  await registerUser(email, 'Katherine Johnson');
  await signIn(page, email);
  await expectSignedIn(page);
  const { authenticator } = await enrolTotp(page);
  await page.getByRole('button', { name: 'I have saved my codes' }).click();
  await signOut(page);

  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Forgot your password?' })).toBeVisible();
  await page.getByLabel('Email').fill('not an address');
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(page.locator('#email-error')).toContainText('Enter the email address of your account');
  await expect(page.getByLabel('Email')).toBeFocused();
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(page.getByRole('status').filter({ hasText: `If an account uses ${email}, we have sent it a link` })).toBeVisible();
  await expectAccessible(page, 'forgot password');
  await screenshot(page, 'forgot-password', testInfo);

  // The mailer's link: the page reads the token, then takes it out of the address bar.
  const reset = await mail('password_reset', email);
  await page.goto(linkOf(reset));
  await expect(page.getByRole('heading', { level: 1, name: 'Choose a new password' })).toBeVisible();
  await expect(page).toHaveURL(/\/reset-password$/);
  expect(page.url()).not.toContain(String(reset.data.token));

  // The rules are shown as one types; a password that breaks them is never sent.
  const resets: string[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/v1/auth/password/reset')) resets.push(request.method());
  });
  await page.getByLabel('New password').fill('too short');
  await expect(page.getByText('Not yet: have at least 12 characters')).toBeAttached();
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page.locator('#new_password-error')).toContainText('does not meet the rules');
  expect(resets).toEqual([]);
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await expect(page.getByText('Done: be hard to guess')).toBeAttached();
  await expectAccessible(page, 'reset password');
  await screenshot(page, 'reset-password', testInfo);
  await page.getByRole('button', { name: 'Set new password' }).click();

  // Back to sign in, told that the second factor is still asked.
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText('Sign in with your new password');
  await expect(page.getByRole('status')).toContainText('you will still be asked for it');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Second step' })).toBeVisible();
  await page.getByLabel('Code from your authenticator app').fill(await authenticator.code());
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectSignedIn(page);

  // The link works once (here opened while signed in).
  await page.goto(linkOf(reset));
  await page.getByLabel('New password').fill(`${NEW_PASSWORD} again`);
  await expect(page.getByText('Done: be hard to guess')).toBeAttached();
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page.getByRole('alert')).toHaveText('This password reset link is invalid, expired, or was already used.');
  await expect(page.getByRole('link', { name: 'Ask for a new link' })).toBeVisible();
});

test('verify the email address from the link: a dead link is explained, the notice goes away', async ({
  page,
  newContext,
}, testInfo) => {
  const email = uniqueEmail('dorothy');
  await registerUser(email, 'Dorothy Vaughan');
  const first = await mail('verify_email', email);
  await signIn(page, email);
  await expectSignedIn(page);
  await securityPage(page);
  const unverified = page.getByTestId('unverified-email');
  await expect(unverified).toContainText('Your email address is not verified yet.');
  await expect(page.getByText('Not verified', { exact: true })).toBeVisible();
  await expectAccessible(page, 'security with an unverified address');

  // A new link replaces the first one.
  await unverified.getByRole('button', { name: 'Send the link again' }).click();
  await expect(page.getByRole('status').filter({ hasText: `We sent a new verification link to ${email}` })).toBeVisible();
  const second = await mail('verify_email', email, 2);
  expect(second.data.token).not.toEqual(first.data.token);

  // Signed out, on another device: the replaced link is refused in words.
  const phone = await (await newContext()).newPage();
  await phone.goto(linkOf(first));
  await expect(phone.getByRole('heading', { level: 1, name: 'Verify your email address' })).toBeVisible();
  await expect(phone).toHaveURL(/\/verify-email$/);
  await phone.getByRole('button', { name: 'Verify my email address' }).click();
  await expect(phone.getByRole('alert')).toHaveText('This verification link is invalid, expired, or was already used.');
  await expect(phone.getByRole('link', { name: 'Sign in' })).toBeVisible();

  // Signed in: the newest link verifies, and the Security page says so.
  await page.goto(linkOf(second));
  await expect(page.getByRole('heading', { level: 1, name: 'Verify your email address' })).toBeVisible();
  await expect(page).toHaveURL(/\/verify-email$/);
  await expectAccessible(page, 'verify email');
  await page.getByRole('button', { name: 'Verify my email address' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Your email address is verified. You sign in with ${email}.` })).toBeVisible();
  await screenshot(page, 'verify-email', testInfo);
  await page.getByRole('link', { name: 'Back to your security settings' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
  await expect(page.getByText('Verified', { exact: true })).toBeVisible();
  await expect(page.getByTestId('unverified-email')).toHaveCount(0);
});

test('change the password: the wrong current one is said next to it, other devices are signed out', async ({
  page,
  newContext,
}) => {
  const email = uniqueEmail('mary');
  await registerUser(email, 'Mary Jackson');
  const laptop = page;
  const phone = await (await newContext()).newPage();
  await signIn(laptop, email);
  await expectSignedIn(laptop);
  await signIn(phone, email);
  await expectSignedIn(phone);

  await securityPage(laptop);
  const form = laptop.getByRole('region', { name: 'Password', exact: true });
  await form.getByLabel('Current password').fill('not my password at all');
  await form.getByLabel('New password').fill(NEW_PASSWORD);
  await expect(form.getByText('Done: be hard to guess')).toBeAttached();
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop.locator('#current_password-error')).toHaveText(/This is not your current password\./);
  await expect(form.getByLabel('Current password')).toBeFocused();
  await expectAccessible(laptop, 'change password with an error');

  await form.getByLabel('Current password').fill('correct horse battery staple');
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(
    laptop.getByRole('status').filter({ hasText: 'Your password was changed. Any other devices signed in to your account were signed out.' }),
  ).toBeVisible();
  await expect(form.getByLabel('Current password')).toHaveValue('');
  await expect(laptop.getByTestId('session')).toHaveCount(1);

  // The phone's next call finds its session ended; the new password signs it in again.
  await goTo(phone, 'Send money');
  await expect(phone.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(phone.getByText('Your session has ended')).toBeVisible();
  await signIn(phone, email, NEW_PASSWORD);
  await expectSignedIn(phone);
  // The laptop carries on.
  await goTo(laptop, 'Accounts');
  await expectSignedIn(laptop);
});

test('change the email address with a step-up; the old one signs in until the new one is verified', async ({
  page,
  newContext,
}, testInfo) => {
  const oldEmail = uniqueEmail('christine');
  const newEmail = uniqueEmail('christine-new');
  await registerUser(oldEmail, 'Christine Darden');
  await signIn(page, oldEmail);
  await expectSignedIn(page);
  const { authenticator } = await enrolTotp(page);
  await page.getByRole('button', { name: 'I have saved my codes' }).click();

  const section = page.getByRole('region', { name: 'Email address' });
  await section.getByLabel('New email address').fill(oldEmail.toUpperCase());
  await section.getByRole('button', { name: 'Change email address' }).click();
  await expect(page.locator('#new_email-error')).toHaveText(/This is already your email address\./);
  await section.getByLabel('New email address').fill(newEmail);
  await section.getByRole('button', { name: 'Change email address' }).click();
  await stepUpWith(page, await authenticator.code(), 'Changing your email address needs you to confirm it is you.');
  const sent = page.getByRole('status').filter({ hasText: `We sent a link to ${newEmail}.` });
  await expect(sent).toBeVisible();
  await expect(sent).toContainText(`keep signing in with ${oldEmail}`);
  await expect(page.getByTestId('current-email')).toHaveText(oldEmail);
  await expectAccessible(page, 'email change requested');
  await screenshot(page, 'security-email-change', testInfo);
  // The old address hears of it; the new one gets the link.
  await mail('email_change_requested', oldEmail);
  const verify = await mail('verify_email', newEmail);

  // Until then the new address does not sign in.
  const phone = await (await newContext()).newPage();
  await signIn(phone, newEmail);
  await expect(phone.getByRole('alert')).toContainText('The email or password is wrong.');

  // Opened on the phone, signed out: the new address is the one from now on.
  await phone.goto(linkOf(verify));
  await phone.getByRole('button', { name: 'Verify my email address' }).click();
  await expect(phone.getByRole('status')).toContainText('Your email address is verified. If you changed it, sign in with the new address');
  await mail('email_changed', oldEmail);
  await signIn(phone, oldEmail);
  await expect(phone.getByRole('alert')).toContainText('The email or password is wrong.');
  await signIn(phone, newEmail);
  await expect(phone.getByRole('heading', { level: 1, name: 'Second step' })).toBeVisible();

  await page.reload();
  await expect(page.getByTestId('current-email')).toHaveText(newEmail);
  await expect(page.getByText('Verified', { exact: true })).toBeVisible();
});

test('download my data: without a second factor the app offers to set one up; the file holds the account', async ({
  page,
}, testInfo) => {
  const email = uniqueEmail('annie');
  await registerUser(email, 'Annie Easley');
  await signIn(page, email);
  await expectSignedIn(page);
  await securityPage(page);

  // No second factor: the server answers mfa_enrollment_required, and the app offers the set-up.
  await page.getByRole('button', { name: 'Download my data' }).click();
  const offer = page.getByRole('dialog', { name: 'Set up a second factor first' });
  await expect(offer).toContainText('Downloading your data needs you to confirm it is you.');
  await expect(offer.getByRole('link', { name: 'Set up an authenticator app' })).toBeFocused();
  await expectAccessible(page, 'offer to set up a second factor');
  await screenshot(page, 'enrolment-offer', testInfo);
  await offer.getByRole('link', { name: 'Set up an authenticator app' }).click();
  await expect(offer).toBeHidden();
  await expect(page).toHaveURL(/\/security#authenticator$/);
  await expect(page.getByRole('button', { name: 'Set up an authenticator app' })).toBeFocused();
  const { authenticator } = await enrolTotp(page);
  await page.getByRole('button', { name: 'I have saved my codes' }).click();

  // Now a step-up, then the file.
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download my data' }).click();
  await stepUpWith(page, await authenticator.code(), 'Downloading your data needs you to confirm it is you.');
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^strongroom-data-\d{4}-\d{2}-\d{2}\.json$/);
  await expect(page.getByRole('status').filter({ hasText: `Your data was downloaded as ${download.suggestedFilename()}` })).toBeVisible();
  const data = JSON.parse(await readFile(await download.path(), 'utf8')) as {
    user: { email: string; display_name: string };
    sessions: unknown[];
    security_events: { kind: string }[];
    truncated: boolean;
  };
  expect(data.user.email).toBe(email);
  expect(data.user.display_name).toBe('Annie Easley');
  expect(data.sessions.length).toBeGreaterThanOrEqual(1);
  expect(data.security_events.map((event) => event.kind)).toContain('login');
  expect(data.truncated).toBe(false);
});

test('close the account: refused while it holds money, then closed and signed out', async ({ page }, testInfo) => {
  const email = uniqueEmail('evelyn');
  await registerUser(email, 'Evelyn Boyd Granville');
  await signIn(page, email);
  await expectSignedIn(page);
  const account = await openAccount(page, 'EUR');
  await deposit(account, 1_000, 'EUR');
  await securityPage(page);

  const confirm = page.getByRole('dialog', { name: 'Close your Strongroom account?' });
  const closeButton = page.getByRole('button', { name: 'Close my account', exact: true });

  // Without a second factor: the offer to set one up, and nothing closed.
  await closeButton.click();
  await expect(confirm.getByRole('button', { name: 'Keep my account' })).toBeFocused();
  await expectAccessible(page, 'close account confirmation');
  await screenshot(page, 'close-account', testInfo);
  await confirm.getByRole('button', { name: 'Close my account for good' }).click();
  const offer = page.getByRole('dialog', { name: 'Set up a second factor first' });
  await expect(offer).toContainText('Closing your account needs you to confirm it is you.');
  await offer.getByRole('button', { name: 'Not now' }).click();
  await expect(offer).toBeHidden();
  await expect(confirm.getByRole('alert')).toHaveText(
    'This needs a second factor. Set up an authenticator app or a passkey on the Security page first.',
  );
  await confirm.getByRole('button', { name: 'Keep my account' }).click();
  await expect(confirm).toBeHidden();

  const { authenticator } = await enrolTotp(page);
  await page.getByRole('button', { name: 'I have saved my codes' }).click();

  // With money in an account: refused, and said why.
  await closeButton.click();
  await confirm.getByRole('button', { name: 'Close my account for good' }).click();
  await stepUpWith(page, await authenticator.code(), 'Closing your account needs you to confirm it is you.');
  await expect(confirm.getByRole('alert')).toContainText('Your accounts still hold money. Move it out before closing your account.');
  await expect(confirm.getByRole('link', { name: 'See your accounts' })).toBeVisible();
  await expectAccessible(page, 'close account refused');
  await confirm.getByRole('button', { name: 'Keep my account' }).click();

  // Emptied (paid out by the payments service), the account closes; the person is signed out.
  await withdraw(account, 1_000, 'EUR');
  await closeButton.click();
  await confirm.getByRole('button', { name: 'Close my account for good' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText('Your Strongroom account is closed and you were signed out everywhere.');
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await signIn(page, email);
  await expect(page.getByRole('alert')).toContainText('The email or password is wrong.');
});

test('a large transfer without a second factor offers to set one up instead of a step-up', async ({
  page,
  newContext,
}) => {
  const payerEmail = uniqueEmail('gladys');
  const payeeEmail = uniqueEmail('melba');
  await registerUser(payerEmail, 'Gladys West');
  await registerUser(payeeEmail, 'Melba Roy Mouton');
  const payee = await (await newContext()).newPage();
  await signIn(payee, payeeEmail);
  await expectSignedIn(payee);
  const payeeAccount = await openAccount(payee, 'EUR');
  await signIn(page, payerEmail);
  await expectSignedIn(page);
  await deposit(await openAccount(page, 'EUR'), 200_000, 'EUR');

  await goTo(page, 'Send money');
  await page.getByLabel('To account id').fill(payeeAccount);
  await page.getByLabel(/^Amount/).fill('1500.00');
  await page.getByRole('button', { name: 'Send money' }).click();
  const offer = page.getByRole('dialog', { name: 'Set up a second factor first' });
  await expect(offer).toContainText('Large transfers need you to confirm it is you.');
  await expect(page.getByRole('dialog', { name: 'Confirm it’s you' })).toHaveCount(0);
  await offer.getByRole('button', { name: 'Not now' }).click();
  await expect(page.getByRole('alert')).toHaveText(
    'This needs a second factor. Set up an authenticator app or a passkey on the Security page first.',
  );
  await page.getByRole('button', { name: 'Send money' }).click();
  await offer.getByRole('link', { name: 'Set up an authenticator app' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Set up an authenticator app' })).toBeFocused();
});
