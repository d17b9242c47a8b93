// What the binary serves around the app: the web app's CSP and caching, SPA routes that never
// hide an API 404; and the pages for states the server cannot easily be put in here
// (quarantine, a locked key service), rendered from the real problem documents.

import { expectSignedIn, goTo, signIn } from './support/flows';
import { expect, expectAccessible, screenshot, test, uniqueEmail } from './support/fixtures';
import { getRaw, registerUser, replayRefreshCookieElsewhere } from './support/server';

const WEB_APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

test('the app is served with its CSP, hashed assets are immutable, API 404s stay problems', async ({ page, guard }) => {
  const index = await getRaw('/');
  expect(index.status).toBe(200);
  expect(index.headers['content-security-policy']).toBe(WEB_APP_CSP);
  expect(index.headers['cache-control']).toBe('no-store');
  expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(index.headers['x-frame-options']).toBe('DENY');
  expect(index.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  const html = index.text;
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
  expect(html).not.toMatch(/<style|style=/); // no inline style
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
  expect(assets.length).toBeGreaterThanOrEqual(2);
  for (const asset of assets) {
    expect(asset).toMatch(/-[\w-]{8,}\.(js|css)$/);
    const file = await getRaw(asset);
    expect(file.status).toBe(200);
    expect(file.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(file.headers['content-security-policy']).toBe(WEB_APP_CSP);
  }

  const route = await getRaw('/accounts/some-account-id');
  expect(route.status).toBe(200);
  expect(route.text).toBe(html);

  for (const path of ['/v1/no-such-endpoint', '/internal/v1/deposits', '/.well-known/nothing', '/assets/missing.js', '/favicon.ico']) {
    const missing = await getRaw(path);
    expect(missing.status, path).toBe(404);
    expect(missing.headers['content-type'], path).toBe('application/problem+json');
    expect(missing.headers['content-security-policy'], path).toBe("default-src 'none'; frame-ancestors 'none'");
    expect((JSON.parse(missing.text) as { code: string }).code, path).toBe('not_found');
  }
  const json = await getRaw('/healthz');
  expect(json.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");

  // The CSP is really enforced: an inline script injected into the page does not run.
  await page.goto('/signin');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  const ran = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true;';
    document.body.append(script);
    return (window as unknown as { __inlineRan?: boolean }).__inlineRan === true;
  });
  expect(ran).toBe(false);
  // ...and the guard every test runs with saw the violation (then forget this deliberate one).
  await expect.poll(() => guard.problems.join('\n')).toContain('Content Security Policy');
  guard.problems.length = 0;
});

test('an account on hold shows what happened and how to lift it', async ({ page }, testInfo) => {
  const email = uniqueEmail('joan');
  await registerUser(email, 'Joan Clarke');
  await signIn(page, email);
  await expectSignedIn(page);

  // The app knows no 404 pages of its own beyond this one.
  await page.goto('/no/such/page');
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await expectAccessible(page, 'not found');

  // A thief replays this browser's refresh cookie from another browser and system: the
  // server kills the session and puts the account on hold. The password still signs in, and
  // the app shows the hold (this account has no second factor, so only support can lift it).
  const refresh = (await page.context().cookies()).find((cookie) => cookie.name === '__Host-strongroom_rt');
  expect(refresh).toBeDefined();
  expect(await replayRefreshCookieElsewhere(refresh!.value)).toBe(401);
  await page.goto('/accounts');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await signIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Your account is on hold' })).toBeVisible();
  await expect(page.getByText('only our support team can lift the hold')).toBeVisible();
  await expectAccessible(page, 'quarantine');
  await screenshot(page, 'quarantine', testInfo);
});

test('a locked key service says only that the data is temporarily locked', async ({ page }) => {
  const email = uniqueEmail('radia');
  await registerUser(email, 'Radia Perlman');
  await signIn(page, email);
  await expectSignedIn(page);
  await page.route('**/v1/me/profile', (route) =>
    route.fulfill({
      status: 503,
      headers: { 'retry-after': '5', 'content-type': 'application/problem+json' },
      body: JSON.stringify({ status: 503, code: 'key_service_unavailable', title: 'The key service is unavailable' }),
    }),
  );
  await goTo(page, 'Profile');
  await expect(page.getByRole('alert')).toHaveText('Your personal data is temporarily locked. Try again shortly.');
  await expectAccessible(page, 'profile while the key service is down');
});

test('the API reference at /docs renders the server\'s OpenAPI under the web app\'s CSP', async ({ page }, testInfo) => {
  const response = await page.goto('/docs');
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
  await expect(page.getByRole('heading', { level: 1, name: /Strongroom/ })).toBeVisible();
  // Operations of the real document, grouped by tag, with their problem responses.
  // (`/v1/transfers` has a GET, the list, and a POST, the transfer: the POST is meant.)
  const transfer = page.locator('.opblock-post .opblock-summary-path', { hasText: /^\/v1\/transfers$/ });
  await expect(transfer).toBeVisible();
  await transfer.click();
  await expect(page.getByText('insufficient_funds').first()).toBeVisible();
  // It documents only: no request can be sent from the page.
  await expect(page.getByRole('button', { name: 'Try it out' })).toHaveCount(0);
  await screenshot(page, 'api-reference', testInfo);
});
