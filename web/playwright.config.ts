// Browser tests: Debian's Chromium (never a downloaded browser) against a real strongroom
// that e2e/support/global-setup.ts starts on a free port, with its own data directory.

import { defineConfig } from '@playwright/test';

const workers = Number(process.env.STRONGROOM_E2E_WORKERS ?? '2');

export default defineConfig({
  testDir: 'e2e',
  globalSetup: './e2e/support/global-setup.ts',
  outputDir: 'test-results/artifacts',
  workers,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    locale: 'en-GB',
    timezoneId: 'UTC',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    actionTimeout: 15_000,
  },
  projects: [
    {
      name: 'desktop',
      testIgnore: /phone\.spec\.ts/,
      use: { viewport: { width: 1280, height: 860 } },
    },
    {
      // The phone-width pass, and the account-lifecycle journeys again at that width.
      name: 'phone',
      testMatch: /(phone|lifecycle)\.spec\.ts/,
      use: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    },
  ],
});
