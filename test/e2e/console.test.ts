/**
 * The operator console of a real `lifeline serve --demo` process, in Chromium: the overview (counts
 * without the dashboard's own connection, the nodes view, the time series over a chosen window), the
 * connections view (filter, inspect, disconnect with a chosen code, paged API), the channels view
 * (subscribers, presence members, history, publish from the UI, never to `$lifeline.*`), incidents
 * (search, permalink), and the restart view following a drain live. Screenshots in artifacts/console-*.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { truncateUtf8, utf8Length } from '../../src/protocol/index.js';
import type { ConnectionsPage } from '../../src/dashboard/console-api.js';
import { killAll } from '../support/serve-process.js';
import { closeAllPeers, connectPeer } from '../support/ws-peer.js';
import { DESKTOP, PHONE, launchBrowser, renderedFonts, screenshot, sidewaysOverflow, startDemoServer, until, watchErrors, type DemoServer } from './support.js';

let browser: Browser;
let server: DemoServer;
const pages: Page[] = [];

beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startDemoServer()]);
});

afterEach(async () => {
  closeAllPeers();
  await Promise.all(pages.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await browser?.close();
  await killAll();
});

/** A dashboard page at `hash`, in `lang`, its lifeline connection open, errors collected. */
async function dashboard(hash = '', lang: 'en' | 'zh' = 'en'): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: DESKTOP });
  pages.push(page);
  const errors = watchErrors(page);
  await page.goto(`${server.http}/?lang=${lang}${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#link[data-state="open"]');
  return { page, errors };
}

/** The demo page, subscribed to the demo channel; resolves with its session id. */
async function demoPage(): Promise<{ page: Page; session: string }> {
  const page = await browser.newPage();
  pages.push(page);
  await page.goto(`${server.http}/demo?lang=en`);
  await page.waitForSelector('#welcomes li[data-subscribed="demo"]');
  return { page, session: (await page.textContent('#session'))!.trim() };
}

async function go(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.waitForSelector(`body[data-view="${hash.split('/')[1]}"]`);
}

const count = async (page: Page, id: string): Promise<number> => Number(await page.textContent(`#${id}`));
const api = async <T>(path: string): Promise<T> => (await fetch(`${server.http}/_lifeline/api/${path}`)).json() as Promise<T>;
const post = (path: string, body: unknown): Promise<Response> =>
  fetch(`${server.http}${path}`, { method: 'POST', headers: { 'x-lifeline-admin': '1', 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('the operator console', () => {
  it('overview: the counts leave the dashboard out, one node row for this process, a time series over a chosen window', async () => {
    const { page: dash, errors } = await dashboard();
    // Only the dashboard is connected: it is counted apart, not as an open connection.
    await dash.waitForFunction(() => document.querySelector('#dashboards-note')?.textContent?.includes('1 dashboard'));
    expect(await count(dash, 'stat-open')).toBe(0);
    expect(await count(dash, 'stat-opened')).toBe(0);
    await demoPage();
    await until('the demo page counted', async () => ((await count(dash, 'stat-open')) === 1 ? true : undefined));

    // The nodes view: this very process, ready, with its vitals.
    const row = await dash.waitForSelector(`#nodes tr[data-source$=":${server.serve.pid}"]`);
    expect(await row.getAttribute('data-state')).toBe('ready');
    const cells = await row.$$eval('td', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(cells[1]).toBe('ready');
    expect(Number(cells[2])).toBe(2); // the node's load: the demo page and the dashboard
    expect(cells[3]).toMatch(/^\d+(\.\d)? MiB$/);
    expect(cells[4]).toMatch(/^\d+(\.\d)? \/ \d+(\.\d)? ms$/);
    expect(cells[5]).toMatch(/^\d+(\.\d)?%$/);
    expect(cells[7]).toBe('sqlite');

    // The series over a chosen window: the bars hold the open connections and the messages.
    await dash.click('#series-window button[data-window="1m"]');
    await dash.waitForSelector('#series[data-window="1m"]');
    expect(await dash.getAttribute('#series-window button[data-window="1m"]', 'aria-pressed')).toBe('true');
    await dash.waitForSelector('#chart-connections rect[data-key="open"][data-count="1"]');
    await dash.waitForSelector('#chart-messages rect[data-key="out"]');
    expect(await dash.locator('#chart-connections svg').getAttribute('aria-label')).toContain('Open connections');
    await screenshot(dash, 'console-overview-en');

    // In Chinese, the server's state too.
    await dash.click('button[data-lang="zh"]');
    await dash.waitForFunction(() => document.querySelector('#server-state')?.textContent?.startsWith('运行中'));
    expect(await dash.textContent('#server-state')).not.toMatch(/running|processes|updated/);
    expect(await dash.textContent('#nodes tr td:nth-child(2)')).toBe('就绪');
    await screenshot(dash, 'console-overview-zh');
    expect(errors).toEqual([]);
  });

  it('connections: filter, inspect, disconnect with a chosen code and a reason cut to 123 bytes', async () => {
    const demo = await demoPage();
    const { page: dash, errors } = await dashboard('#/connections');
    await dash.fill('#connections-q', demo.session);
    await dash.click('#connections-filter button[type="submit"]');
    const row = await dash.waitForSelector('#connections-rows tr[data-connection]');
    expect(await dash.locator('#connections-rows tr[data-connection]').count()).toBe(1);
    expect(await row.textContent()).toContain('demo');
    expect(await row.getAttribute('data-dashboard')).toBe('false');
    const id = (await row.getAttribute('data-connection'))!;
    await dash.click(`#connections-rows a[href="#/connections/${id}"]`);
    await dash.waitForSelector(`#connection-detail[data-connection="${id}"][data-state="open"]`);
    const facts = await dash.textContent('#connection-facts');
    expect(facts).toContain(demo.session);
    expect(facts).toContain('lifeline.v1');
    expect(await dash.textContent('#connection-facts .channels')).toBe('demo');

    // Only codes a server may send: 1005 is refused on the page (and by the server, below).
    await dash.fill('#disconnect-code', '1005');
    await dash.waitForSelector('#disconnect-code-name[data-sendable="false"]');
    expect(await dash.isDisabled('#disconnect-submit')).toBe(true);
    await dash.fill('#disconnect-code', '4001');
    await dash.waitForSelector('#disconnect-code-name[data-sendable="true"]');
    const reason = '维护中，请稍后重连。'.repeat(10); // 300 bytes of UTF-8
    await dash.fill('#disconnect-reason', reason);
    await dash.waitForSelector('#disconnect-bytes[data-over="true"]');
    await screenshot(dash, 'console-connections-en');
    await dash.click('#disconnect-submit');
    await dash.waitForSelector('#disconnect-result[data-ok="true"][data-code="4001"]');
    expect(await dash.textContent('#disconnect-result')).toContain('cut to 123 bytes');
    // The client got exactly that: 4001, the reason cut on a character boundary.
    const close = await demo.page.waitForSelector('#closes tr[data-code="4001"]');
    const sent = (await close.$eval('td.reason', (td) => td.textContent))!;
    expect(sent).toBe(truncateUtf8(reason));
    expect(utf8Length(sent)).toBeLessThanOrEqual(123);
    expect(server.serve.logs.some((e) => e.msg === 'connection closed from the dashboard' && e.connection === id)).toBe(true);

    // The server checks the code and the body too, whatever a page does.
    expect((await post('/admin/disconnect', { connection: id, code: 1005 })).status).toBe(400);
    expect((await post('/admin/disconnect', { connection: id, code: 1000.5 })).status).toBe(400);
    expect((await post('/admin/disconnect', { connection: 'c_nope', code: 1000 })).status).toBe(404);
    expect((await post('/admin/disconnect', { connection: id, code: 1000, reason: 'x'.repeat(501) })).status).toBe(400);
    const junk = await fetch(`${server.http}/admin/disconnect`, { method: 'POST', headers: { 'x-lifeline-admin': '1' }, body: '{"connection":' });
    expect(junk.status).toBe(400);
    const huge = await fetch(`${server.http}/admin/disconnect`, { method: 'POST', headers: { 'x-lifeline-admin': '1' }, body: JSON.stringify({ connection: id, code: 1000, reason: 'x'.repeat(10_000) }) });
    expect(huge.status).toBe(413);
    for (const query of ['after=-1', 'after=1e3', 'limit=0', 'limit=abc', 'dashboards=%00']) {
      expect([200, 400], query).toContain((await fetch(`${server.http}/_lifeline/api/connections?${query}`)).status);
    }
    expect(server.serve.child.exitCode).toBeNull();

    await dash.click('button[data-lang="zh"]');
    await dash.waitForFunction(() => document.querySelector('#connections-title')?.textContent === '连接');
    await screenshot(dash, 'console-connections-zh');
    expect(errors).toEqual([]);
  });

  it('connections: the list is paged and bounded, and dashboards can be left out', async () => {
    const { page: dash } = await dashboard('#/connections');
    for (let i = 0; i < 25; i++) await connectPeer(`ws://127.0.0.1:${server.serve.port}/paging-test`);
    const seen: string[] = [];
    let after: string | null = '';
    let pagesRead = 0;
    while (after !== null) {
      const p: ConnectionsPage = await api<ConnectionsPage>(`connections?q=paging-test&limit=10&after=${after}`);
      expect(p.rows.length).toBeLessThanOrEqual(10);
      expect(p.matched).toBe(25);
      seen.push(...p.rows.map((r) => r.id));
      after = p.next;
      pagesRead += 1;
    }
    expect(pagesRead).toBe(3);
    expect(new Set(seen).size).toBe(25);
    expect((await fetch(`${server.http}/_lifeline/api/connections?limit=101`)).status).toBe(400);
    expect((await fetch(`${server.http}/_lifeline/api/connections?q=${'x'.repeat(201)}`)).status).toBe(400);
    const withDash = await api<ConnectionsPage>('connections?limit=100');
    const dashRows = withDash.rows.filter((r) => r.dashboard);
    expect(dashRows.length).toBeGreaterThanOrEqual(1);
    const without = await api<ConnectionsPage>('connections?limit=100&dashboards=0');
    expect(without.rows.some((r) => r.dashboard)).toBe(false);
    // In the page: next, and back to the first.
    await dash.fill('#connections-q', 'paging-test');
    await dash.click('#connections-filter button[type="submit"]');
    await dash.waitForFunction(() => document.querySelector('#connections-summary')?.textContent?.startsWith('25 of'));
    expect(await dash.locator('#connections-rows tr[data-connection]').count()).toBe(25);
  });

  it('channels: subscribers, presence members, history, publish from the UI, never to $lifeline.*', async () => {
    const demo = await demoPage();
    const { page: dash, errors } = await dashboard('#/channels');
    await dash.click('#channels-refresh');
    const row = await dash.waitForSelector('#channels-rows tr[data-channel="demo"]');
    const subscribers = Number(await row.getAttribute('data-subscribers'));
    expect(subscribers).toBeGreaterThanOrEqual(1);
    // Every demo page is a member of the channel's presence (and so is every other demo page of earlier tests, within its grace).
    const members = (await api<{ presence: { available: boolean; members?: number } }>('channel?name=demo')).presence;
    expect(members.available).toBe(true);
    expect(members.members).toBeGreaterThanOrEqual(1);
    expect(await row.textContent()).toMatch(/\d+ members/);
    await dash.click('#channels-rows a[href="#/channels/demo"]');
    await dash.waitForSelector('#channel-detail[data-channel="demo"] #channel-presence[data-available="true"]');
    expect(await dash.textContent('#channel-presence')).toMatch(/^\d+ members$/);

    const text = `from the console ${Date.now()}`;
    await dash.fill('#publish-data', JSON.stringify({ text }));
    await dash.click('#publish-form button[type="submit"]');
    const result = await dash.waitForSelector('#publish-result[data-ok="true"]');
    const offset = Number(await result.getAttribute('data-offset'));
    expect(offset).toBeGreaterThanOrEqual(1);
    // Stored, then delivered: the demo page has it at that offset; the history shows it.
    await demo.page.waitForSelector(`#messages li[data-offset="${offset}"]`);
    expect(await demo.page.textContent(`#messages li[data-offset="${offset}"]`)).toContain(text);
    await dash.waitForSelector(`#channel-history tr[data-offset="${offset}"]`);
    expect(await dash.textContent(`#channel-history tr[data-offset="${offset}"]`)).toContain(text);
    expect(server.serve.logs.some((e) => e.msg === 'published from the dashboard' && e.offset === offset)).toBe(true);
    await screenshot(dash, 'console-channel-en');
    // Not JSON: said on the page, nothing sent.
    await dash.fill('#publish-data', '{not json');
    await dash.click('#publish-form button[type="submit"]');
    await dash.waitForSelector('#publish-result[data-ok="false"]');

    // The server's own channels: no publish form, and the server refuses anyway.
    await go(dash, '#/channels/%24lifeline.stats');
    await dash.waitForSelector('#channel-detail[data-channel="$lifeline.stats"]');
    await dash.waitForSelector('#publish-reserved:not([hidden])');
    expect(await dash.isHidden('#publish-form')).toBe(true);
    const refused = await post('/admin/publish', { channel: '$lifeline.stats', data: { v: 1, forged: true } });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'reserved_channel' });
    expect((await post('/admin/publish', { channel: 'with space', data: 1 })).status).toBe(400);
    expect((await post('/admin/publish', { channel: 'demo' })).status).toBe(400);
    expect((await fetch(`${server.http}/_lifeline/api/channel?name=${'x'.repeat(201)}`)).status).toBe(400);
    // History pages back: one message per page, each older than the last.
    const first = await api<{ messages: { offset: number }[]; next: number | null }>('channel?name=demo&limit=1');
    expect(first.messages).toHaveLength(1);
    if (first.next !== null) {
      const older = await api<{ messages: { offset: number }[] }>(`channel?name=demo&limit=1&before=${first.next}`);
      expect(older.messages[0]!.offset).toBeLessThan(first.messages[0]!.offset);
    }

    await dash.click('button[data-lang="zh"]');
    await go(dash, '#/channels/demo');
    await dash.waitForFunction(() => /^\d+ 位成员$/.test(document.querySelector('#channel-presence')?.textContent ?? ''));
    await screenshot(dash, 'console-channel-zh');
    expect(errors).toEqual([]);
  });

  it('incidents: searchable, each with a permalink that opens it on a fresh page', async () => {
    await demoPage();
    const { page: dash, errors } = await dashboard();
    await dash.click('#crash');
    const result = await dash.waitForSelector('#crash-result[data-incident]');
    const incident = (await result.getAttribute('data-incident'))!;
    await dash.click(`#incidents a[href="#/incidents/${incident}"]`);
    await dash.waitForSelector(`#incident-detail[data-incident="${incident}"] #incident-summary`);
    expect(await dash.textContent('#incident-summary')).toBe('crash requested from the dashboard');
    const link = (await dash.getAttribute('#incident-permalink', 'href'))!;
    expect(link).toBe(`${server.http}/#/incidents/${incident}`);

    // Search: by words of the error, and by part of the id; a miss finds nothing.
    await dash.fill('#incidents-q', 'REQUESTED FROM THE DASHBOARD');
    await dash.click('#incidents-filter button[type="submit"]');
    await dash.waitForSelector(`#incident-rows tr[data-incident="${incident}"]`);
    await dash.fill('#incidents-q', 'no such words anywhere');
    await dash.click('#incidents-filter button[type="submit"]');
    await dash.waitForSelector('#incident-rows tr.none');
    await dash.fill('#incidents-q', incident.slice(4, 10));
    await dash.click('#incidents-filter button[type="submit"]');
    await dash.waitForSelector(`#incident-rows tr[data-incident="${incident}"]`);
    await screenshot(dash, 'console-incidents-en');

    // The permalink on a page of its own, in Chinese.
    const fresh = await browser.newPage({ viewport: DESKTOP });
    pages.push(fresh);
    await fresh.goto(`${server.http}/?lang=zh#/incidents/${incident}`);
    await fresh.waitForSelector(`#incident-detail[data-incident="${incident}"] #incident-summary`);
    expect(await fresh.isVisible('#view-incidents')).toBe(true);
    await screenshot(fresh, 'console-incident-permalink-zh');
    // An id that is not there is said so; a malformed one is a 400.
    await go(fresh, '#/incidents/inc_000000000000');
    await fresh.waitForSelector('#incident-missing');
    expect((await fetch(`${server.http}/_lifeline/api/incidents?id=../../etc`)).status).toBe(400);
    expect(errors).toEqual([]);
  });

  it('restart: the drain shows live, then its outcome; "Restart requested" does not stay', async () => {
    const demo = await demoPage();
    // Plain WebSocket clients too: they close and do not come back as sessions.
    for (let i = 0; i < 20; i++) await connectPeer(`ws://127.0.0.1:${server.serve.port}/plain`);
    const { page: dash, errors } = await dashboard('#/restart');
    // The worker serving now is the one that drains: SIGHUP hands its clients to a successor.
    const draining = server.serve.pid;
    await dash.click('#restart');
    await dash.waitForSelector('#restart-result[data-restart="finished"]', { timeout: 15_000 });
    const text = (await dash.textContent('#restart-result'))!;
    expect(text).not.toContain('Restart requested');
    expect(text).toContain('Restart finished');
    const row = await dash.waitForSelector(`#drain-rows tr[data-source$=":${draining}"][data-running="false"]`);
    const targets = Number(await row.getAttribute('data-targets'));
    expect(targets).toBe(21); // the demo page and the plain clients; the dashboard is not counted
    expect(Number(await row.getAttribute('data-closed'))).toBe(targets);
    expect(await row.getAttribute('data-sessions')).toBe('1');
    // The demo page's session came back (to the successor, which announced it): it is counted as back.
    await demo.page.waitForSelector('#closes tr[data-code="1012"][data-back-after-ms]', { timeout: 10_000 });
    await dash.waitForSelector('#drain-rows tr[data-back="1"]', { timeout: 10_000 });
    await dash.waitForSelector('#drain-chart polyline[data-key="left"]');
    await screenshot(dash, 'console-restart-en');
    await dash.click('button[data-lang="zh"]');
    await dash.waitForFunction(() => document.querySelector('#restart-result')?.textContent?.startsWith('重启已于'));
    await screenshot(dash, 'console-restart-zh');
    expect(errors).toEqual([]);
  });

  it('renders the Chinese views with a CJK font, not boxes; fits a phone', async () => {
    const { page: dash } = await dashboard('#/connections', 'zh');
    const fonts = await renderedFonts(dash, '#connections-title');
    const cjk = fonts.filter((f) => /CJK|Han|WenQuanYi|YaHei|PingFang|Hiragino|Droid Sans Fallback/i.test(f.familyName));
    expect(cjk.length, `the title was drawn with ${JSON.stringify(fonts)}: install a CJK font (apt-get install fonts-noto-cjk)`).toBeGreaterThan(0);
    expect(cjk.reduce((n, f) => n + f.glyphCount, 0)).toBe(2); // 连接: both characters from a CJK font
    // On a phone the console's lists become cards too, and nothing is wider than the screen.
    await dash.setViewportSize(PHONE);
    await dash.click('#connections-refresh');
    await dash.waitForSelector('#connections-rows tr[data-connection]');
    for (const view of ['connections', 'overview']) {
      await go(dash, `#/${view}`);
      expect(await sidewaysOverflow(dash), view).toBe(0);
    }
    await dash.waitForSelector('#nodes tr[data-source]');
    expect(await sidewaysOverflow(dash)).toBe(0);
    await screenshot(dash, 'console-phone-zh');
  });
});
