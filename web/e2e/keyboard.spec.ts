// Keyboard only: the skip link, labels and focus order let a person sign in, move between
// pages and send money without a pointer; dialogs keep focus and close with Escape.

import { enrolTotp, expectSignedIn } from './support/flows';
import { PASSWORD, expect, test, uniqueEmail } from './support/fixtures';
import { deposit, registerUser } from './support/server';

test('sign in, navigate and send money with the keyboard alone', async ({ page }) => {
  const email = uniqueEmail('barbara');
  await registerUser(email, 'Barbara Liskov');
  await page.goto('/signin');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeFocused();

  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Email')).toBeFocused();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Password')).toBeFocused();
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await expectSignedIn(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Your accounts' })).toBeFocused();

  // Open an account: Tab reaches the currency and the button in order.
  await page.getByLabel('Currency').focus();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Open account' })).toBeFocused();
  await page.keyboard.press('Enter');
  const card = page.getByRole('listitem').filter({ hasText: 'EUR account' });
  await expect(card).toBeVisible();
  await deposit((await card.getByTestId('account-id').innerText()).trim(), 10_000, 'EUR');

  // Focus order of the header, walked backwards from the page heading down to the skip link
  // (the first stop of the page), which jumps to the content.
  await page.goto('/accounts');
  await expect(page.getByRole('heading', { level: 1, name: 'Your accounts' })).toBeFocused();
  const header = page.getByRole('banner');
  for (const stop of [
    header.getByRole('button', { name: 'Sign out' }),
    header.getByRole('link', { name: 'Security' }),
    header.getByRole('link', { name: 'Profile' }),
    header.getByRole('link', { name: 'Send money' }),
    header.getByRole('link', { name: 'Accounts' }),
    header.getByRole('link', { name: 'Strongroom' }),
    header.getByRole('link', { name: 'Skip to content' }),
  ]) {
    await page.keyboard.press('Shift+Tab');
    await expect(stop).toBeFocused();
  }
  await page.keyboard.press('Enter');
  await expect.poll(() => page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);

  await header.getByRole('link', { name: 'Send money' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Send money' })).toBeFocused();

  // The transfer form in visual order (once its accounts have loaded, so the first Tab has a
  // field to land on); Enter submits; errors take the focus.
  await expect(page.getByLabel('From').getByRole('option', { name: /EUR account/ })).toBeAttached();
  await expect(page.getByRole('heading', { level: 1, name: 'Send money' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('From')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('To account id')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel(/^Amount/)).toBeFocused();
  await page.keyboard.type('1.999');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Note for the recipient (optional)')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Send money' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('To account id')).toBeFocused();
  await expect(page.getByLabel('To account id')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel(/^Amount/)).toHaveAttribute('aria-describedby', /amount-error/);

  // A dialog holds the focus and Escape closes it without doing anything.
  await enrolTotp(page);
  await page.getByRole('button', { name: 'I have saved my codes' }).press('Enter');
  await page.getByRole('button', { name: 'Remove authenticator app' }).press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Remove the authenticator app?' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByText('Signing in asks for a code from your authenticator app.')).toBeVisible();
});
