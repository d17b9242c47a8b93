// Profile: personal details with client checks and the server's own errors, the national id
// masked until a step-up (TOTP here), editing, and deleting with confirmation.

import { enrolTotp, expectSignedIn, goTo, signIn } from './support/flows';
import { expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { registerUser } from './support/server';

test('personal details: validated, masked, revealed after step-up, edited, deleted', async ({ page }, testInfo) => {
  const email = uniqueEmail('mary');
  await registerUser(email, 'Mary Jackson');
  await signIn(page, email);
  await expectSignedIn(page);
  const { authenticator } = await enrolTotp(page);
  await page.getByRole('button', { name: 'I have saved my codes' }).click();

  await goTo(page, 'Profile');
  await expect(page.getByText('You have not added your personal details yet.')).toBeVisible();
  await page.getByRole('button', { name: 'Add personal details' }).click();
  await page.getByLabel('Legal name').fill('Mary Winston Jackson');
  await page.getByLabel('Date of birth').fill('1921-04-09');
  await page.getByLabel('National id').fill('MJ 1921 04 09');
  await page.getByLabel('Address line 1').fill('12 Research Drive');
  await page.getByLabel('City').fill('Hampton');
  await page.getByLabel('Postal code').fill('23666');

  // Missing country: caught before sending.
  await page.getByRole('button', { name: 'Save details' }).click();
  await expect(page.locator('[id="address.country-error"]')).toContainText('Choose a country');
  await expect(page.getByLabel('Country')).toBeFocused();
  await page.getByLabel('Country').selectOption('US');

  // The server's refusal, with the client's checks bypassed, lands next to its field.
  await page.route('**/v1/me/profile', async (route) => {
    const body = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>;
    await route.continue({ postData: JSON.stringify({ ...body, date_of_birth: '2999-01-01' }) });
  });
  await page.getByRole('button', { name: 'Save details' }).click();
  await expect(page.locator('#date_of_birth-error')).toContainText('Enter a real date');
  await page.unroute('**/v1/me/profile');
  await expectAccessible(page, 'profile form with errors');
  await screenshot(page, 'profile-form', testInfo);

  await page.getByRole('button', { name: 'Save details' }).click();
  await expect(page.getByText('Your personal details were saved.')).toBeVisible();
  const nationalId = page.getByTestId('national-id');
  await expect(nationalId).not.toContainText('MJ 1921');
  await expect(nationalId).toHaveText('*********4 09');

  // Reveal needs a fresh second factor.
  await page.getByRole('button', { name: 'Show national id' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
  await dialog.getByLabel('Code from your authenticator app').fill(authenticator.wrongCode());
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(dialog.locator('#step-up-code-error')).toContainText('wrong, expired, or was already used');
  await dialog.getByLabel('Code from your authenticator app').fill(await authenticator.code());
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(nationalId).toHaveText('MJ 1921 04 09');
  await expectAccessible(page, 'profile with the national id shown');
  await screenshot(page, 'profile', testInfo);

  // Display name.
  await page.getByLabel('Display name').fill('Mary W. Jackson');
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByText('Your name was saved.')).toBeVisible();
  await expect(page.getByRole('banner')).toContainText('Mary W. Jackson');

  // Edit (the step-up is still fresh, so no second prompt).
  await page.getByRole('button', { name: 'Edit personal details' }).click();
  await expect(page.getByLabel('National id')).toHaveValue('MJ 1921 04 09');
  await page.getByLabel('City').fill('Norfolk');
  await page.getByRole('button', { name: 'Save details' }).click();
  await expect(page.getByText('Your personal details were saved.')).toBeVisible();
  await expect(page.getByText('Norfolk')).toBeVisible();

  // Delete, with confirmation; cancelling keeps everything.
  await page.getByRole('button', { name: 'Delete personal details' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete your personal details?' });
  await expectAccessible(page, 'delete confirmation');
  await confirm.getByRole('button', { name: 'Keep my details' }).click();
  await expect(page.getByText('Norfolk')).toBeVisible();
  await page.getByRole('button', { name: 'Delete personal details' }).click();
  await confirm.getByRole('button', { name: 'Delete for good' }).click();
  await expect(page.getByText('Your personal details were deleted.')).toBeVisible();
  await expect(page.getByText('You have not added your personal details yet.')).toBeVisible();
});
