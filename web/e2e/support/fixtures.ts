// The test fixture every spec uses: Debian's Chromium trusting only the test server's key,
// the server's origin as base URL, and a guard that fails any test whose page reported a
// Content-Security-Policy violation or an uncaught error.

import AxeBuilder from '@axe-core/playwright';
import {
  test as base,
  expect,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
  type TestInfo,
} from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.STRONGROOM_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for Chromium as root on a machine without network beyond loopback. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Guard {
  problems: string[];
  watch: (context: BrowserContext) => Promise<void>;
}

export const test = base.extend<{
  guard: Guard;
  newContext: (options?: BrowserContextOptions) => Promise<BrowserContext>;
}>({
  launchOptions: [
    async ({}, use) => {
      await use({
        executablePath: CHROMIUM,
        args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${process.env.STRONGROOM_SPKI ?? ''}`],
      });
    },
    { scope: 'worker' },
  ],
  baseURL: async ({}, use) => {
    await use(process.env.STRONGROOM_URL);
  },
  guard: [
    async ({ context }, use) => {
      const problems: string[] = [];
      const watchPage = (page: Page) => {
        page.on('console', (message) => {
          const text = message.text();
          if (/Content Security Policy|CSP violation|Refused to (load|execute|apply|connect|frame)/i.test(text)) {
            problems.push(`CSP: ${text}`);
          }
        });
        page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
      };
      const watch = async (watched: BrowserContext) => {
        // Reported through the DOM event too, in case a console message is missed.
        await watched.addInitScript(() => {
          document.addEventListener('securitypolicyviolation', (event) => {
            console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
          });
        });
        watched.pages().forEach(watchPage);
        watched.on('page', watchPage);
      };
      await watch(context);
      await use({ problems, watch });
      expect(problems, 'CSP violations or uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
  /** Another browser profile (another device), watched like the default one. */
  newContext: async ({ browser, guard }, use) => {
    const opened: BrowserContext[] = [];
    await use(async (options) => {
      const context = await browser.newContext(options);
      opened.push(context);
      await guard.watch(context);
      return context;
    });
    for (const context of opened) await context.close();
  },
});

export { expect };

/** axe-core on the current page: no serious or critical WCAG 2.1 A/AA violation. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const severe = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
  expect(severe, `accessibility of ${what}`).toEqual([]);
}

const SCREENSHOT_DIR = process.env.STRONGROOM_UPDATE_SCREENSHOTS
  ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots')
  : null;

/** Saves a picture of the page: into docs/screenshots when STRONGROOM_UPDATE_SCREENSHOTS is
 *  set (to refresh the README's pictures), else beside the other test results. */
export async function screenshot(page: Page, name: string, testInfo: TestInfo): Promise<void> {
  const dir = SCREENSHOT_DIR ?? testInfo.outputPath('screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
}

/** A unique address per test run, so reruns against one server never collide. */
export function uniqueEmail(name: string): string {
  return `${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.com`;
}

export const PASSWORD = 'correct horse battery staple';
