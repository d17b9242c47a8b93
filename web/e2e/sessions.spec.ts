// Sessions: a reload signs in again silently through the HttpOnly cookie while no token is in
// any storage; two tabs refreshing at once do not trip reuse detection; revoking another
// session signs that device out at once.

import type { Page } from '@playwright/test';
import { expectSignedIn, goTo, signIn } from './support/flows';
import { expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { registerUser } from './support/server';

/** Every place a page script could keep a token, as text. */
async function scriptVisibleStorage(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const local = JSON.stringify({ ...window.localStorage });
    const session = JSON.stringify({ ...window.sessionStorage });
    const databases = 'indexedDB' in window && indexedDB.databases ? await indexedDB.databases() : [];
    const caches = 'caches' in window ? await window.caches.keys() : [];
    return JSON.stringify({ local, session, cookie: document.cookie, databases, caches });
  });
}

function captureTokens(page: Page): string[] {
  const tokens: string[] = [];
  page.on('response', async (response) => {
    if (!/\/v1\/auth\/(login|refresh|mfa\/totp|webauthn\/login)$/.test(response.url()) || response.status() !== 200) return;
    try {
      const body = (await response.json()) as { access_token?: string };
      if (body.access_token) tokens.push(body.access_token);
    } catch {
      // not JSON
    }
  });
  return tokens;
}

test('reload stays signed in with no token in any storage; concurrent tabs share the session', async ({ page, context }) => {
  const email = uniqueEmail('hedy');
  await registerUser(email, 'Hedy Lamarr');
  const tokens = captureTokens(page);
  await signIn(page, email);
  await expectSignedIn(page);

  await page.reload();
  await expectSignedIn(page);
  await expect.poll(() => tokens.length).toBeGreaterThanOrEqual(2);
  const storage = await scriptVisibleStorage(page);
  for (const token of tokens) expect(storage).not.toContain(token);
  expect(storage).not.toContain('strongroom_rt');
  expect(storage).not.toMatch(/eyJ[\w-]+\.eyJ/); // no JWT anywhere
  // The refresh cookie exists, but only the browser can read it.
  const cookies = await context.cookies();
  const refresh = cookies.find((cookie) => cookie.name === '__Host-strongroom_rt');
  expect(refresh?.httpOnly).toBe(true);
  expect(refresh?.secure).toBe(true);
  expect(refresh?.sameSite).toBe('Strict');

  // Three tabs load at once: each refresh runs under one Web Lock, so the rotating cookie is
  // never presented twice (which would revoke the whole session). The check reads the cookie
  // each refresh carried, so it does not depend on how fast the browser reports timings.
  const presented: Promise<string>[] = [];
  context.on('request', (request) => {
    if (!request.url().endsWith('/v1/auth/refresh')) return;
    presented.push(
      request.allHeaders().then((headers) => /__Host-strongroom_rt=([^;]+)/.exec(headers.cookie ?? '')?.[1] ?? 'none'),
    );
  });
  const tabs = [page, await context.newPage(), await context.newPage()];
  await Promise.all(tabs.map((tab) => tab.goto('/accounts')));
  for (const tab of tabs) await expectSignedIn(tab);
  await Promise.all(tabs.map((tab) => tab.reload()));
  for (const tab of tabs) await expectSignedIn(tab);
  // Six refreshes, each with the cookie the one before it set: no refresh token used twice.
  await expect.poll(() => presented.length).toBeGreaterThanOrEqual(6);
  const cookiesSent = await Promise.all(presented);
  expect(cookiesSent).not.toContain('none');
  expect(new Set(cookiesSent).size, 'a refresh token was presented twice').toBe(cookiesSent.length);
  await goTo(page, 'Security');
  await expect(page.getByTestId('security-event').filter({ hasText: 'reused' })).toHaveCount(0);
  await expect(page.getByTestId('session')).toHaveCount(1);

  // Signing out in one tab signs out the others.
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
  await expect(tabs[1]!.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(tabs[1]!.getByText('You were signed out in another tab.')).toBeVisible();
});

test('revoking another session signs that device out at once', async ({ page, newContext }, testInfo) => {
  const email = uniqueEmail('margaret');
  await registerUser(email, 'Margaret Hamilton');
  const laptop = page;
  const phone = await (await newContext()).newPage();
  await signIn(laptop, email);
  await expectSignedIn(laptop);
  await signIn(phone, email);
  await expectSignedIn(phone);

  await goTo(laptop, 'Security');
  const sessions = laptop.getByTestId('session');
  await expect(sessions).toHaveCount(2);
  await expect(sessions.filter({ hasText: 'This device' })).toHaveCount(1);
  await expectAccessible(laptop, 'security with two sessions');
  await screenshot(laptop, 'security-sessions', testInfo);
  await sessions.filter({ hasNotText: 'This device' }).getByRole('button', { name: /^Sign out/ }).click();
  await expect(laptop.getByRole('status').filter({ hasText: 'was signed out' })).toBeVisible();
  await expect(sessions).toHaveCount(1);

  // The phone's next call finds its token dead and its refresh cookie revoked.
  await goTo(phone, 'Send money');
  await expect(phone.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(phone.getByText('Your session has ended')).toBeVisible();
  await phone.reload();
  await expect(phone.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  // The laptop itself carries on.
  await goTo(laptop, 'Accounts');
  await expectSignedIn(laptop);
});

test('a refresh cookie replayed in another browser ends the session and puts the account on hold', async ({
  page,
  context,
  newContext,
}) => {
  const email = uniqueEmail('ida');
  await registerUser(email, 'Ida Rhodes');
  await signIn(page, email);
  await expectSignedIn(page);

  // Someone copies the refresh cookie into another browser (another browser family and
  // system): account protection refuses it, kills the session and holds the account.
  const thief = await newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' });
  await thief.addCookies(await context.cookies());
  const stolen = await thief.newPage();
  await stolen.goto('/accounts');
  await expect(stolen.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();

  // The owner's open tab finds its session ended at its next call, and says so.
  await goTo(page, 'Security');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText('Your session has ended');
  // The password still signs in, but the account is on hold until support lifts it (this
  // account has no second factor that could).
  await signIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Your account is on hold' })).toBeVisible();
});
