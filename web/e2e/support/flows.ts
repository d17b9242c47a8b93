// Steps several specs share, done through the page as a person would.

import type { CDPSession, Page } from '@playwright/test';
import { expect, PASSWORD } from './fixtures';
import { Authenticator } from './totp';

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/signin');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

export async function expectSignedIn(page: Page): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name: 'Your accounts' })).toBeVisible();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
}

export async function goTo(page: Page, link: 'Accounts' | 'Send money' | 'Profile' | 'Security'): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
}

/** Security page → authenticator app: returns the authenticator holding the secret, and the
 *  recovery codes shown once. */
export async function enrolTotp(
  page: Page,
  atQrCode?: () => Promise<void>,
): Promise<{ authenticator: Authenticator; recoveryCodes: string[] }> {
  await goTo(page, 'Security');
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
  await atQrCode?.();
  const secret = (await page.getByTestId('totp-secret').innerText()).replace(/\s/g, '');
  const authenticator = new Authenticator(secret);
  await page.getByLabel('Enter the 6-digit code the app shows').fill(await authenticator.code());
  await page.getByRole('button', { name: 'Turn on' }).click();
  const codes = page.getByTestId('recovery-codes').getByRole('listitem');
  await expect(codes).toHaveCount(10);
  const recoveryCodes = (await codes.allInnerTexts()).map((code) => code.trim());
  return { authenticator, recoveryCodes };
}

/** Chromium's virtual authenticator (CTAP2, resident keys, user verification), as a
 *  platform authenticator with a fingerprint reader would be. */
export async function addVirtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

export async function openAccount(page: Page, currency: string): Promise<string> {
  await goTo(page, 'Accounts');
  await page.getByLabel('Currency').selectOption(currency);
  await page.getByRole('button', { name: 'Open account' }).click();
  const card = page.getByRole('listitem').filter({ hasText: `${currency} account` });
  await expect(card).toBeVisible();
  return (await card.getByTestId('account-id').innerText()).trim();
}
