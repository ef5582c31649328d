import { vi } from 'vitest';
import { randomBytes } from 'node:crypto';
/**
 * Shared pieces of the browser tests: Debian's Chromium (never a downloaded browser), screenshots in
 * artifacts/, and a `lifeline serve --demo` process with sqlite in a temp dir, a short drain window and
 * a small retry hint.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServe, tempDataDir, type LogEntry, type ServeProcess } from '../support/serve-process.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));

/** The reconnect window the test servers send with 1012, ms. */
export const RETRY_HINT = { minMs: 200, maxMs: 800 } as const;

/** Launch headless Chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A phone's viewport (an iPhone 12-14 in CSS pixels). */
export const PHONE = { width: 390, height: 844 } as const;
/** A desktop viewport. */
export const DESKTOP = { width: 1280, height: 900 } as const;

/** How far the page is wider than its viewport, in CSS pixels (0: nothing overflows sideways). */
export function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/**
 * The fonts Chromium actually drew an element's text with (DevTools' "rendered fonts"), with how many
 * glyphs each. Text drawn without a font that has its characters shows as boxes; this tells which.
 */
export async function renderedFonts(page: Page, selector: string): Promise<{ familyName: string; glyphCount: number }[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    if (!nodeId) throw new Error(`no element ${selector}`);
    // The fonts are reported on the text node, the element's first child.
    const { node } = await cdp.send('DOM.describeNode', { nodeId, depth: 1 });
    const text = node.children?.find((c) => c.nodeType === 3);
    const target = text ? (await cdp.send('DOM.pushNodesByBackendIdsToFrontend', { backendNodeIds: [text.backendNodeId] })).nodeIds[0]! : nodeId;
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId: target });
    return fonts.map((f) => ({ familyName: f.familyName, glyphCount: f.glyphCount }));
  } finally {
    await cdp.detach();
  }
}

/** Save a full-page screenshot as artifacts/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Collect page errors so a test can assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/** A demo server and what the tests need from it. */
export interface DemoServer {
  readonly serve: ServeProcess;
  readonly http: string;
  readonly publishKey: string;
}

/** `lifeline serve --demo --store sqlite` in a temp dir, drain window 400 ms, retry hint 200-800 ms. */
export async function startDemoServer(extra: string[] = []): Promise<DemoServer> {
  const dir = tempDataDir();
  const config = join(dir, 'serve.json');
  writeFileSync(config, JSON.stringify({ retryHint: RETRY_HINT, graceMs: 500, heartbeatMs: 5000 }));
  // A key of the test's own: the server never logs one (it prints a generated demo key for people, on stderr).
  const publishKey = randomBytes(18).toString('base64url');
  const serve = await startServe(['--demo', '--store', 'sqlite', '--data-dir', dir, '--drain-window', '400ms', '--config', config, `--publish-key=${publishKey}`, ...extra]);
  return { serve, http: `http://127.0.0.1:${serve.port}`, publishKey };
}

/** `POST /publish` one message; resolves with its offset. */
export async function publish(server: DemoServer, channel: string, data: unknown, idempotencyKey: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${server.http}/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.publishKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data, idempotencyKey }),
      });
    } catch (error) {
      // A kept-alive connection closed under the request (a process handing over in a restart): as any
      // publisher should, resend with the same idempotency key, which stores it once whatever happened.
      if (attempt > 20) throw error;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (res.ok) return ((await res.json()) as { offset: number }).offset;
    // A store hiccup is retried too (same idempotency key, so it is stored once).
    if (res.status !== 503 || attempt > 20) throw new Error(`publish failed: HTTP ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Poll `check` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (value === undefined) throw new Error(`timed out waiting for ${what}`);
      return value;
    },
    { timeout: timeoutMs, interval: everyMs },
  );
}
