// A passkey added with Chromium's virtual authenticator signs in alone (passkey-first) and as
// the second factor after the password; it also confirms a step-up (revealing the national id).

import { addVirtualAuthenticator, expectSignedIn, goTo, signIn, signOut } from './support/flows';
import { expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { registerUser } from './support/server';

test('add a passkey, sign in with it alone and as a second factor', async ({ page }, testInfo) => {
  const email = uniqueEmail('katherine');
  await registerUser(email, 'Katherine Johnson');
  await page.goto('/signin');
  await addVirtualAuthenticator(page);
  await signIn(page, email);
  await expectSignedIn(page);

  await goTo(page, 'Security');
  await page.getByLabel('Name for the new passkey (optional)').fill('Test laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByText('Your passkey was added.')).toBeVisible();
  const passkeys = page.getByRole('list', { name: 'Your passkeys' }).getByRole('listitem');
  await expect(passkeys).toHaveCount(1);
  await expect(passkeys.first()).toContainText('Test laptop');
  await expect(passkeys.first()).toContainText('not used yet');
  await expectAccessible(page, 'security with a passkey');
  await screenshot(page, 'security-passkeys', testInfo);

  // The passkey confirms a step-up (this session signed in with the password only).
  await goTo(page, 'Profile');
  await page.getByRole('button', { name: 'Add personal details' }).click();
  await page.getByLabel('Legal name').fill('Katherine Coleman Johnson');
  await page.getByLabel('Date of birth').fill('1918-08-26');
  await page.getByLabel('National id').fill('KJ-1918-0826');
  await page.getByLabel('Address line 1').fill('1 Langley Way');
  await page.getByLabel('City').fill('Hampton');
  await page.getByLabel('Postal code').fill('23665');
  await page.getByLabel('Country').selectOption('US');
  await page.getByRole('button', { name: 'Save details' }).click();
  await expect(page.getByTestId('national-id')).toHaveText('********0826');
  await page.getByRole('button', { name: 'Show national id' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
  await expect(dialog).toContainText('Showing your national id needs you to confirm it is you.');
  await dialog.getByRole('button', { name: 'Use a passkey' }).click();
  await expect(page.getByTestId('national-id')).toHaveText('KJ-1918-0826');
  await goTo(page, 'Security');
  await expect(page.getByTestId('security-event').filter({ hasText: 'Identity confirmed with a second factor' })).toHaveCount(1);
  await expect(passkeys.first()).toContainText('last used');

  // Passkey-first: no email, no password.
  await signOut(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expectSignedIn(page);

  // Password, then the passkey as the second factor.
  await signOut(page);
  await signIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Second step' })).toBeVisible();
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await expectSignedIn(page);
});
