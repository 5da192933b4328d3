// A real headless Chromium (Debian's), driven by playwright-core, for the dashboard's tests. Each
// test gets a context of its own (its own cookies) and a list of what went wrong in its pages.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: Chromium's own sandbox needs user namespaces as a non-root user; the tests run as root.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
}

export interface TestPage {
  page: Page;
  context: BrowserContext;
  /** Script errors and console errors (CSP refusals among them) so far. */
  problems: string[];
}

/** Runs `use` with a fresh page, and closes its context whatever happens. */
export async function withPage<T>(browser: Browser, use: (p: TestPage) => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    return await use({ page, context, problems });
  } finally {
    await context.close();
  }
}
