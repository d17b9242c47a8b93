// At phone width (390 × 844): every page reflows without sideways scrolling and stays
// accessible.

import type { Page } from '@playwright/test';
import { expectSignedIn, openAccount } from './support/flows';
import { PASSWORD, expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { deposit } from './support/server';

async function expectNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `${what} scrolls sideways`).toBeLessThanOrEqual(0);
}

/** On a phone the navigation wraps; it is reached the same way. */
async function open(page: Page, link: string, heading: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
  await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
}

test('every page works at phone width', async ({ page }, testInfo) => {
  await page.goto('/signin');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await expectNoSidewaysScroll(page, 'sign in');
  await expectAccessible(page, 'sign in (phone)');
  await screenshot(page, 'phone-sign-in', testInfo);

  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Your name').fill('Dorothy Vaughan');
  await page.getByLabel('Email').fill(uniqueEmail('dorothy'));
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await expect(page.getByText('Done: be hard to guess')).toBeAttached();
  await expectNoSidewaysScroll(page, 'sign up');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expectSignedIn(page);

  const account = await openAccount(page, 'GBP');
  await deposit(account, 123_456, 'GBP');
  await page.reload();
  await expect(page.getByText('GBP 1,234.56')).toBeVisible();
  await expectNoSidewaysScroll(page, 'accounts');
  await expectAccessible(page, 'accounts (phone)');
  await screenshot(page, 'phone-accounts', testInfo);

  await page.getByRole('link', { name: 'GBP account', exact: true }).click();
  await expect(page.getByTestId('entry')).toHaveCount(1);
  await expectNoSidewaysScroll(page, 'history');
  await expectAccessible(page, 'history (phone)');
  await screenshot(page, 'phone-history', testInfo);

  for (const [link, heading] of [
    ['Send money', 'Send money'],
    ['Profile', 'Profile'],
    ['Security', 'Security'],
  ] as const) {
    await open(page, link, heading);
    await expect(page.getByRole('status').filter({ hasText: /Loading/ })).toHaveCount(0);
    await expectNoSidewaysScroll(page, heading);
    await expectAccessible(page, `${heading} (phone)`);
  }
  await screenshot(page, 'phone-security', testInfo);
});
