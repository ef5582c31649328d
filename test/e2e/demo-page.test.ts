/**
 * The demo page (`/demo`) in Chromium against a real `lifeline serve --demo` process: a SIGHUP
 * restart is a 1012 the page comes back from inside the hint window, resuming with every offset
 * delivered exactly once; a crash is a 1011 whose incident id is the one in the server's log. In
 * Chinese too, and on a phone its tables fit the screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { killAll } from '../support/serve-process.js';
import { connectV1 } from '../support/v1-peer.js';
import { explainCode } from '../../src/codes/index.js';
import { SUCCESSOR_RETRY_JITTER_MS } from '../../src/server/core/drain.js';
import { DESKTOP, PHONE, launchBrowser, publish, renderedFonts, screenshot, sidewaysOverflow, startDemoServer, until, watchErrors, type DemoServer } from './support.js';

let browser: Browser;
let server: DemoServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startDemoServer()]);
});

afterAll(async () => {
  await browser?.close();
  await killAll();
});

describe('the client demo page', () => {
  it('SIGHUP: the page reports 1012 "come back now", is back inside the hint window, resumes, and shows every offset exactly once', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.http}/demo`);
    await page.waitForSelector('#welcomes li[data-subscribed="demo"]');

    // A numbered stream over HTTP before, during and after the restart.
    const offsets: number[] = [];
    const publishedAt: number[] = [];
    let n = 0;
    let stop = false;
    const publisher = (async () => {
      while (!stop) {
        n += 1;
        offsets.push(await publish(server, 'demo', { n }, `e2e-demo-${n}`));
        publishedAt.push(Date.now());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await until('10 messages before the restart', () => (offsets.length >= 10 ? true : undefined));
    server.serve.kill('SIGHUP');
    const closeRow = await page.waitForSelector('#closes tr[data-code="1012"][data-back-after-ms]', { timeout: 10_000 });
    const resumedAt = offsets.length;
    await until('10 messages after the resume', () => (offsets.length >= resumedAt + 10 ? true : undefined));
    stop = true;
    await publisher;

    const last = offsets.at(-1)!;
    await page.waitForSelector(`#messages li[data-offset="${last}"]`, { timeout: 10_000 });
    const shown = await page.$$eval('#messages li', (items) => items.map((li) => Number((li as HTMLElement).dataset.offset)));
    expect(shown).toEqual(offsets); // every offset, once, in order
    expect(await page.textContent('#count-duplicates')).toBe('0');
    expect(await page.textContent('#count-gaps')).toBe('0');

    const delayMs = Number(await closeRow.getAttribute('data-delay-ms'));
    const backAfterMs = Number(await closeRow.getAttribute('data-back-after-ms'));
    expect(await closeRow.getAttribute('data-will-reconnect')).toBe('true');
    // A successor was ready: the hint says come back now (0 to a small jitter), not the configured window.
    expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThanOrEqual(SUCCESSOR_RETRY_JITTER_MS);
    expect(backAfterMs).toBeLessThan(SUCCESSOR_RETRY_JITTER_MS + 1000);
    expect(await closeRow.textContent()).toContain(`retry=0-${SUCCESSOR_RETRY_JITTER_MS}ms`);
    // Some of the stream was stored while the page was away: the resume replayed it.
    const [awayFrom, awayTo] = [Number(await closeRow.getAttribute('data-at')), Number(await closeRow.getAttribute('data-back-at'))];
    expect(publishedAt.filter((t) => t > awayFrom && t < awayTo).length).toBeGreaterThan(0);
    expect(await page.locator('#welcomes li[data-resumed="true"][data-recovered="true"]').count()).toBeGreaterThanOrEqual(1);
    expect(server.serve.logs.some((e) => e.msg === 'reload requested')).toBe(true);
    expect(server.serve.child.exitCode).toBeNull();
    await screenshot(page, 'demo-sighup-1012');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a crash shows 1011 with the incident id the server logged, and nothing internal', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.http}/demo`);
    await page.waitForSelector('#welcomes li[data-subscribed="demo"]');
    await page.click('#crash');
    const row = await page.waitForSelector('#closes tr[data-code="1011"]', { timeout: 5000 });
    const incident = await row.getAttribute('data-incident');
    expect(incident).toMatch(/^inc_[0-9a-f]+$/);
    expect(await row.textContent()).toContain('Internal Error');
    expect(await row.getAttribute('data-will-reconnect')).toBe('true');
    const logged = await server.serve.waitForLog((e) => e.incident === incident, 2000);
    expect(logged.msg).toContain('1011');
    expect(JSON.stringify(logged)).toContain('demo crash requested');
    // The resend after the resume is refused: the handler failed on this message before.
    await page.waitForFunction(() => document.querySelector('#crash-result')?.textContent?.includes('HANDLER_FAILED'), undefined, { timeout: 10_000 });
    expect(await page.textContent('#crash-result')).toContain(incident!);
    expect(await page.content()).not.toContain('s3cr3t');
    await screenshot(page, 'demo-crash-1011');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('clients may publish to the demo channel but never to $lifeline.*, also after a reload', async () => {
    // Runs after the SIGHUP above: the reload replaced serve's publish rule, and the dashboard put its guard back.
    expect(server.serve.logs.some((e) => e.msg === 'configuration reloaded')).toBe(true);
    const peer = await connectV1(`ws://127.0.0.1:${server.serve.port}/`);
    peer.send({ t: 'hello', v: 1 });
    await peer.next((f) => f.t === 'welcome');
    peer.send({ t: 'pub', id: 1, ch: '$lifeline.stats', data: { v: 1, forged: true } });
    expect(await peer.next((f) => 'id' in f && f.id === 1)).toMatchObject({ t: 'reject', code: 'FORBIDDEN' });
    peer.send({ t: 'pub', id: 2, ch: 'demo', data: { text: 'from a client' } });
    expect(await peer.next((f) => 'id' in f && f.id === 2)).toMatchObject({ t: 'ack' });
    peer.ws.close();
  });

  it('speaks Chinese: labels, close names, the log; the choice switches back and forth', async () => {
    const page = await browser.newPage({ viewport: DESKTOP });
    const errors = watchErrors(page);
    await page.goto(`${server.http}/demo?lang=zh`);
    await page.waitForSelector('#welcomes li[data-subscribed="demo"]');
    expect(await page.getAttribute('html', 'lang')).toBe('zh-Hans');
    expect(await page.textContent('h1')).toBe('lifeline 客户端演示');
    expect(await page.textContent('#crash')).toBe('让我的连接崩溃（1011）');
    await page.click('#crash');
    const row = await page.waitForSelector('#closes tr[data-code="1011"]', { timeout: 5000 });
    expect(await row.textContent()).toContain(explainCode(1011, 'zh').name);
    expect(await row.textContent()).toContain('是'); // reconnects: yes
    await page.waitForFunction(() => document.querySelector('#crash-result')?.textContent?.startsWith('重发被拒绝'), undefined, { timeout: 10_000 });
    expect(await page.textContent('#welcomes li[data-resumed="true"]')).toContain('欢迎');
    // No English left in what the page itself says (codes, ids, offsets and the server's reason are data).
    const words = await page.evaluate(() => Array.from(document.querySelectorAll('[data-i18n]'), (el) => el.textContent ?? ''));
    for (const w of words) expect(w, w).not.toMatch(/\b(the|connection|message|session|Restart|Closes|Received)\b/);
    const fonts = await renderedFonts(page, 'h1');
    expect(fonts.some((f) => /CJK|Han|WenQuanYi|YaHei|PingFang|Hiragino|Droid Sans Fallback/i.test(f.familyName)), JSON.stringify(fonts)).toBe(true);
    await screenshot(page, 'demo-zh');
    await page.click('button[data-lang="en"]');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'lifeline client demo');
    expect(await page.textContent('#closes tr[data-code="1011"]')).toContain('Internal Error');
    await page.click('button[data-lang="zh"]');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'lifeline 客户端演示');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('on a phone, nothing is wider than the screen, in either language', async () => {
    for (const lang of ['en', 'zh'] as const) {
      const page = await browser.newPage({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      const errors = watchErrors(page);
      await page.goto(`${server.http}/demo?lang=${lang}`);
      await page.waitForSelector('#welcomes li[data-subscribed="demo"]');
      // Fill the tables: a close with a long reason and a long message.
      await page.click('#crash');
      await page.waitForSelector('#closes tr[data-code="1011"]', { timeout: 5000 });
      await publish(server, 'demo', { text: 'a long message '.repeat(20), id: 'x'.repeat(120) }, `e2e-phone-${lang}`);
      await page.waitForFunction(() => document.querySelectorAll('#messages li').length > 0);
      await page.waitForSelector('#welcomes li[data-resumed="true"]');
      expect(await sidewaysOverflow(page), `${lang}: the page scrolls sideways`).toBe(0);
      // The closes table is one card per close, each cell named.
      const label = await page.$eval('#closes tr td.code', (td) => getComputedStyle(td, '::before').content);
      expect(label).toContain(lang === 'en' ? 'Code' : '关闭码');
      await screenshot(page, `demo-phone-${lang}`);
      expect(errors).toEqual([]);
      await page.close();
    }
  });
});

