/**
 * dist/browser/lifeline-client.js as a browser sees it: an ES module that loads in a plain page with
 * no bundler globals, whose exports work against a real `lifeline serve --demo`, and that never asks
 * for the `ws` package.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { killAll, startServe, type ServeProcess } from '../support/serve-process.js';
import { launchBrowser, screenshot, watchErrors } from './support.js';

const BUNDLE = fileURLToPath(new URL('../../dist/browser/lifeline-client.js', import.meta.url));
const SIZE = fileURLToPath(new URL('../../dist/browser/size.json', import.meta.url));

let browser: Browser;
let serve: ServeProcess;
/** A plain static server for the test page and the bundle: nothing else on the page. */
let pages: Server;
let origin: string;

beforeAll(async () => {
  pages = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else if (req.url === '/lifeline-client.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(BUNDLE));
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  [browser, serve] = await Promise.all([launchBrowser(), startServe(['--demo', '--store', 'memory'])]);
});

afterAll(async () => {
  await browser?.close();
  await killAll();
  pages?.closeAllConnections();
  await new Promise((resolve) => pages?.close(resolve));
});

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>bundle</title>
<script type="module">
import * as lifeline from './lifeline-client.js';
window.loaded = {
  globals: { process: typeof process, require: typeof require, global: typeof global, module: typeof module, exports: typeof exports, Buffer: typeof Buffer, __dirname: typeof __dirname, setImmediate: typeof setImmediate },
  exports: Object.keys(lifeline).sort(),
};
window.lifelineModule = lifeline; // for the test's page.evaluate (vitest rewrites import() in test code)
document.body.dataset.loaded = 'true';
</script></head><body><h1>lifeline-client.js in a plain page</h1><pre id="out"></pre></body></html>`;

describe('the browser build', () => {
  it('records its size', () => {
    const size = JSON.parse(readFileSync(SIZE, 'utf8')) as { bytes: number; gzipBytes: number };
    expect(size.bytes).toBe(readFileSync(BUNDLE).byteLength);
    expect(size.gzipBytes).toBeGreaterThan(1000);
    expect(size.gzipBytes).toBeLessThan(size.bytes);
  });

  it('loads as an ES module with no bundler globals, and its exports work against a real server', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-loaded="true"]');
    const loaded = await page.evaluate(() => (window as unknown as { loaded: { globals: Record<string, string>; exports: string[] } }).loaded);
    for (const [name, type] of Object.entries(loaded.globals)) expect(type, name).toBe('undefined');
    expect(loaded.exports).toEqual(expect.arrayContaining(['createClient', 'createSession', 'parseReason', 'DEFAULT_BACKOFF', 'RejectedError']));
    // The reconnect policy and its delay math are internal: reached through the client, not exported.
    for (const internal of ['backoffDelay', 'decide', 'analyzeClose', 'ReadyState']) expect(loaded.exports).not.toContain(internal);

    const outcome = await page.evaluate(async (url) => {
      const within = <T>(what: string, p: Promise<T>): Promise<T> =>
        Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), 5000))]);
      const lifeline = (window as unknown as { lifelineModule: typeof import('../../src/client/index.js') }).lifelineModule;
      const reason = lifeline.parseReason('service restart; retry=1000-5000ms');
      // A plain client: the demo echoes, and "crash" is a 1011 with an incident id; the policy says back off.
      const client = lifeline.createClient({ url, backoff: { baseMs: 50 }, random: () => 0.5 });
      const echoed = await within('echo', new Promise<string>((resolve) => {
        client.on('open', () => client.send('hello from the bundle'));
        client.on('message', ({ data }) => resolve(String(data)));
      }));
      const closed = await within('1011', new Promise<{ code: number; name: string; incident?: string; willReconnect: boolean; cls: string; delayMs?: number }>((resolve) => {
        client.on('close', (c) => resolve({ code: c.code, name: c.name, incident: c.incident, willReconnect: c.willReconnect, cls: c.class, delayMs: c.delayMs }));
        client.send('crash');
      }));
      client.close();
      // Error classes keep their names through minification (callers may check \`error.name\`).
      const names = [new lifeline.ClientClosedError().name, new lifeline.RejectedError(1, 'FORBIDDEN').name];
      return { reason, echoed, closed, names };
    }, `ws://127.0.0.1:${serve.port}/`);
    expect(outcome.reason).toMatchObject({ retry: { minMs: 1000, maxMs: 5000 } });
    expect(outcome.echoed).toBe('hello from the bundle');
    expect(outcome.names).toEqual(['ClientClosedError', 'RejectedError']);
    // The first failure's backoff, drawn by the bundle's policy: 0.5 * min(30000, 50 * 2 ** 0).
    expect(outcome.closed).toMatchObject({ code: 1011, name: 'Internal Error', willReconnect: true, cls: 'backoff', delayMs: 25 });
    expect(outcome.closed.incident).toMatch(/^inc_/);
    await serve.waitForLog((e) => e.incident === outcome.closed.incident, 2000);
    // Only the page and the module were fetched: the lazy `ws` import never runs in a browser.
    expect(requested.map((u) => new URL(u).pathname).sort()).toEqual(['/', '/lifeline-client.js']);
    await page.evaluate((text) => {
      document.querySelector('#out')!.textContent = text;
    }, JSON.stringify(outcome, null, 2));
    await screenshot(page, 'browser-bundle');
    expect(errors).toEqual([]);
    await page.close();
  });
});
