// Sign up → sign in → enrol TOTP → sign out → sign in with TOTP, and with a recovery code;
// client-side rules shown as the person types; the server's own refusals rendered in words.

import { expectSignedIn, enrolTotp, signIn, signOut } from './support/flows';
import { PASSWORD, expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { registerUser } from './support/server';

test('sign up, enrol an authenticator app, then sign in with it and with a recovery code', async ({ page }, testInfo) => {
  const email = uniqueEmail('ada');
  const registrations: string[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/v1/auth/register')) registrations.push(request.url());
  });

  await page.goto('/signup');
  await expect(page.getByRole('heading', { level: 1, name: 'Create your account' })).toBeVisible();
  await page.getByLabel('Your name').fill('Ada Lovelace');
  await page.getByLabel('Email').fill(email);

  // The rules are shown while typing, with the server's strength check.
  const password = page.getByLabel('Password', { exact: true });
  await password.fill('password1234');
  await expect(page.getByText('Done: have at least 12 characters')).toBeAttached();
  await expect(page.getByText('Not yet: be hard to guess')).toBeAttached();
  await screenshot(page, 'sign-up', testInfo);
  await expectAccessible(page, 'sign up');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('#password-error')).toContainText('does not meet the rules');
  expect(registrations, 'a weak password is refused before sending').toEqual([]);

  // With client validation bypassed, the server's refusal is shown next to the field.
  await password.fill(PASSWORD);
  await expect(page.getByText('Done: be hard to guess')).toBeAttached();
  await page.route('**/v1/auth/register', async (route) => {
    const body = JSON.parse(route.request().postData() ?? '{}') as Record<string, string>;
    await route.continue({ postData: JSON.stringify({ ...body, password: 'short' }) });
  });
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('#password-error')).toContainText('too short, too long, or too easy to guess');
  await expect(page.getByRole('alert').first()).toContainText('correct the highlighted fields');
  await page.unroute('**/v1/auth/register');

  await page.getByRole('button', { name: 'Create account' }).click();
  await expectSignedIn(page);
  await expectAccessible(page, 'accounts (empty)');

  const { authenticator, recoveryCodes } = await enrolTotp(page, async () => {
    await expectAccessible(page, 'authenticator app enrolment');
    await screenshot(page, 'security-totp-enrolment', testInfo);
  });
  await expect(page.getByText('Your authenticator app is set up.')).toBeVisible();
  await screenshot(page, 'recovery-codes', testInfo);
  await expectAccessible(page, 'security with recovery codes');
  await page.getByRole('button', { name: 'I have saved my codes' }).click();
  await expect(page.getByTestId('recovery-codes')).toHaveCount(0);

  await signOut(page);
  await expect(page.getByText('You are signed out.')).toBeVisible();
  await expectAccessible(page, 'sign in');

  // Password, then the authenticator's code; a wrong code is explained next to the field.
  await signIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Second step' })).toBeVisible();
  await expectAccessible(page, 'second step');
  await screenshot(page, 'sign-in-second-step', testInfo);
  await page.getByLabel('Code from your authenticator app').fill(authenticator.wrongCode());
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.locator('#totp_code-error')).toContainText('wrong, expired, or was already used');
  await page.getByLabel('Code from your authenticator app').fill(await authenticator.code());
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectSignedIn(page);

  // A recovery code works once.
  await signOut(page);
  await signIn(page, email);
  await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
  await page.getByLabel('Recovery code').fill(recoveryCodes[0] ?? '');
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectSignedIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).click();
  await expect(page.getByTestId('recovery-remaining')).toHaveText('9');
  await expect(page.getByTestId('security-event').filter({ hasText: 'Recovery code used' })).toHaveCount(1);
});

test('a sign-in page explains the throttle and says when to retry', async ({ page }) => {
  // Login throttles: 10 attempts per (account, address), then one a minute.
  const email = uniqueEmail('nobody');
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not the password at all');
  for (let attempt = 0; attempt < 10; attempt += 1) {
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert')).toContainText('The email or password is wrong.');
    await page.getByLabel('Password').fill(`not the password ${attempt}`);
  }
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText(/Too many attempts\. Try again in \d+ seconds? \(at \d{2}:\d{2}\)/);
});

test('a first factor after an old sign-in asks for the password again', async ({ page }) => {
  // The server wants a sign-in within auth.step_up_max_age_secs (5 minutes) or the password;
  // its first answer is replayed here as it would come 5 minutes after signing in.
  const email = uniqueEmail('annie');
  await registerUser(email, 'Annie Easley');
  await signIn(page, email);
  await expectSignedIn(page);
  const bodies: string[] = [];
  let first = true;
  await page.route('**/v1/mfa/totp/enroll', async (route) => {
    bodies.push(route.request().postData() ?? '');
    if (first) {
      first = false;
      await route.fulfill({
        status: 401,
        headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=300' },
        contentType: 'application/problem+json',
        body: JSON.stringify({ status: 401, code: 'step_up_required', title: 'A fresh multi-factor authentication is required' }),
      });
    } else {
      await route.continue();
    }
  });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).click();
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const dialog = page.getByRole('dialog', { name: 'Enter your password' });
  await expect(dialog.getByLabel('Password')).toBeFocused();
  await expectAccessible(page, 'password dialog');
  await dialog.getByLabel('Password').fill(PASSWORD);
  await dialog.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
  expect(bodies).toEqual(['{}', JSON.stringify({ password: PASSWORD })]);
});
