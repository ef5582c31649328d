/**
 * The dashboard at `/` of a real `lifeline serve --demo` process, in Chromium: live counts over its
 * own lifeline connection, the crash and restart buttons, the closes chart, the close-code reference
 * in both languages, and the comparison view (each paragraph once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { compareCodes, explainCode } from '../../src/codes/index.js';
import { killAll } from '../support/serve-process.js';
import { launchBrowser, screenshot, startDemoServer, until, watchErrors, type DemoServer } from './support.js';

let browser: Browser;
let server: DemoServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startDemoServer()]);
});

afterAll(async () => {
  await browser?.close();
  await killAll();
});

const count = async (page: Page, id: string): Promise<number> => Number(await page.textContent(`#${id}`));

describe('the dashboard', () => {
  it('shows live counts, crashes a demo connection, restarts with 1012, and charts the closes', async () => {
    const dash = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchErrors(dash);
    const demo = await browser.newPage();
    await dash.goto(`${server.http}/?lang=en`);
    await demo.goto(`${server.http}/demo`);
    await demo.waitForSelector('#welcomes li[data-subscribed="demo"]');
    await dash.waitForSelector('#link[data-state="open"]');

    // Live counts arrive over the dashboard's own lifeline connection ($lifeline.stats); they leave it out.
    await until('the demo page counted', async () => ((await count(dash, 'stat-open')) >= 1 ? true : undefined));
    expect(await count(dash, 'stat-opened')).toBeGreaterThanOrEqual(1);

    // Crash: a demo connection (never the dashboard's own) closes with 1011; operators see the error line.
    await dash.click('#crash');
    const result = await dash.waitForSelector('#crash-result[data-incident]');
    const incident = (await result.getAttribute('data-incident'))!;
    expect(incident).toMatch(/^inc_/);
    const row = await dash.waitForSelector(`#incidents tr[data-incident="${incident}"]`, { timeout: 5000 });
    expect(await row.textContent()).toContain('crash requested from the dashboard');
    await demo.waitForSelector(`#closes tr[data-code="1011"][data-incident="${incident}"]`, { timeout: 5000 });
    expect(await demo.content()).not.toContain('crash requested from the dashboard'); // clients see the id only
    await server.serve.waitForLog((e) => e.incident === incident, 2000);
    await dash.waitForSelector('#chart rect[data-code="1011"]', { timeout: 5000 });
    expect(await dash.getAttribute('#link', 'data-state')).toBe('open');
    await until('the incident counted', async () => ((await count(dash, 'stat-incidents')) >= 1 ? true : undefined));

    // Planned restart: the same path as SIGHUP; everyone gets 1012 and comes back; the process keeps serving.
    const drainsBefore = await count(dash, 'stat-drains');
    await demo.waitForSelector('#state[data-state="open"]');
    await dash.click('a[href="#/restart"].button');
    await dash.click('#restart');
    await demo.waitForSelector('#closes tr[data-code="1012"][data-back-after-ms]', { timeout: 10_000 });
    await dash.waitForSelector('#restart-result[data-restart="finished"]', { timeout: 10_000 });
    await dash.click('nav a[data-view="overview"]');
    await dash.waitForSelector('#chart rect[data-code="1012"]', { timeout: 10_000 });
    await until('the drain counted', async () => ((await count(dash, 'stat-drains')) > drainsBefore ? true : undefined));
    await dash.waitForSelector('#link[data-state="open"]');
    expect(await dash.textContent('#link')).toContain('1012');
    expect(server.serve.logs.some((e) => e.msg === 'planned restart requested from the dashboard')).toBe(true);
    expect(server.serve.logs.some((e) => e.msg === 'reload requested')).toBe(true);
    expect(server.serve.child.exitCode).toBeNull();
    expect((await fetch(`${server.http}/healthz`)).status).toBe(200);
    const legend = await dash.textContent('#chart .legend');
    expect(legend).toContain('1011 Internal Error');
    expect(legend).toContain('1012 Service Restart');
    await screenshot(dash, 'dashboard-after-restart');
    expect(errors).toEqual([]);
    await demo.close();
    await dash.close();
  });

  it('shows the close-code reference in English and Chinese, and compares any two codes', async () => {
    const dash = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchErrors(dash);
    await dash.goto(`${server.http}/?lang=en#/reference`);
    await dash.waitForSelector('#reference tr[data-code="1012"]');
    expect(await dash.locator('#reference tr').count()).toBeGreaterThan(15);
    expect(await dash.textContent('#reference tr[data-code="1012"] .name')).toBe(explainCode(1012, 'en').name);
    expect(await dash.textContent('#reference tr[data-code="1011"] .name')).toBe(explainCode(1011, 'en').name);

    // The default comparison is 1011 vs 1012; then any pair.
    expect(await dash.textContent('#compare-difference .text')).toBe(compareCodes(1011, 1012, 'en').difference);
    await dash.fill('#compare-code-a', '1006');
    await dash.fill('#compare-code-b', '4000');
    const en = compareCodes(1006, 4000, 'en');
    await dash.waitForFunction((text) => document.querySelector('#compare-difference .text')?.textContent === text, en.difference);
    expect(await dash.textContent('#compare-a h3')).toBe(`1006 ${en.a.name}`);
    expect(await dash.textContent('#compare-b h3')).toBe(`4000 ${en.b.name}`);
    expect(await dash.textContent('#compare-a')).toContain(en.a.description);
    expect(await dash.textContent('#compare-b')).toContain(en.b.fix);
    expect(await dash.textContent('#compare-b')).toContain(en.b.when);
    // Each paragraph once: the sides say what each code means, when it happens and how to fix it; below
    // them only what they do not say (the difference, which to send).
    const paragraphs = await dash.$$eval('#compare-result p, #compare-result dd', (els) => els.map((e) => e.textContent ?? '').filter((t) => t !== ''));
    expect(paragraphs.length).toBeGreaterThan(6);
    expect(new Set(paragraphs).size).toBe(paragraphs.length);
    // Nothing is lost: the per-code advice is in the sides, the rest under "Which to use".
    expect(await dash.textContent('#compare-a')).toContain(en.a.fix);
    const todo = await dash.textContent('#compare-todo');
    const extra = en.whatToDo.split('\n').filter((line) => !line.includes(en.a.fix) && !line.includes(en.b.fix));
    expect(extra.length).toBeGreaterThan(0);
    for (const line of extra) expect(todo).toContain(line);

    await screenshot(dash, 'dashboard-reference-en');

    // Switch to Chinese: the reference, the comparison and the page's own labels follow.
    await dash.click('button[data-lang="zh"]');
    const zhName = explainCode(1012, 'zh').name;
    expect(zhName).toMatch(/[\u4e00-\u9fff]/);
    await dash.waitForFunction((name) => document.querySelector('#reference tr[data-code="1012"] .name')?.textContent === name, zhName);
    const zh = compareCodes(1006, 4000, 'zh');
    expect(await dash.textContent('#compare-difference .text')).toBe(zh.difference);
    expect(await dash.textContent('#compare-a')).toContain(zh.a.when);
    const zhParagraphs = await dash.$$eval('#compare-result p, #compare-result dd', (els) => els.map((e) => e.textContent ?? ''));
    expect(new Set(zhParagraphs).size).toBe(zhParagraphs.length);
    expect(await dash.getAttribute('html', 'lang')).toBe('zh-Hans');
    expect(await dash.textContent('#reference-title')).toBe('关闭码参考');
    await dash.click('#reference tr[data-code="1012"] summary');
    expect(await dash.textContent('#reference tr[data-code="1012"] dd')).toBe(explainCode(1012, 'zh').description);
    await screenshot(dash, 'dashboard-zh');

    // A value outside 0..4999 is explained, not compared.
    await dash.fill('#compare-code-b', '70000');
    await dash.waitForSelector('#compare-error');

    // The choice sticks: a reload stays in Chinese.
    await dash.goto(`${server.http}/#/reference`);
    await dash.waitForFunction((name) => document.querySelector('#reference tr[data-code="1012"] .name')?.textContent === name, zhName);
    await dash.click('button[data-lang="en"]');
    await dash.waitForFunction((name) => document.querySelector('#reference tr[data-code="1012"] .name')?.textContent === name, explainCode(1012, 'en').name);
    expect(errors).toEqual([]);
    await dash.close();
  });
});
