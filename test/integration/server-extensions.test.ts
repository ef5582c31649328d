/**
 * Hooks several extensions share (`server.use`): each call meets the extensions in the order they were added,
 * then the application's option, read live; a reload replaces the application's hook and never the extensions'.
 * Over real sockets against an in-process server.
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/protocol/index.js';
import type { ServerExtension } from '../../src/server/index.js';
import { useKit } from '../support/kit.js';
import { tryUpgrade } from '../support/ws-peer.js';

const kit = useKit();

/** 'open', or the HTTP status of a refused upgrade. */
async function upgrade(url: string, headers: Record<string, string>): Promise<'open' | number | undefined> {
  const result = await tryUpgrade(url, headers);
  return result.opened ? 'open' : result.status;
}

/** Subscribe on a fresh session; resolves with the answer (subscribed or error). */
async function subscribe(url: string, channel: string): Promise<ServerFrame> {
  const peer = await kit.hello(url);
  peer.send({ t: 'sub', ch: channel });
  return peer.next((f) => (f.t === 'subscribed' || f.t === 'error') && ('ch' in f ? f.ch === channel : f.ref === channel));
}

describe('server.use: extensions before the application, in order', () => {
  it('decides or hands on with next(); the order of use is the order of calls; removing one takes its hooks away', async () => {
    const calls: string[] = [];
    const { server, url } = await kit.start({
      authorizeSubscribe: (_c, channel) => {
        calls.push(`app:${channel}`);
        return channel !== 'app-denied';
      },
    });
    const audit: ServerExtension = {
      name: 'audit',
      authorizeSubscribe: (_c, channel, next) => {
        calls.push(`audit:${channel}`);
        return next();
      },
    };
    const fence: ServerExtension = {
      name: 'fence',
      authorizeSubscribe: (_c, channel, next) => {
        calls.push(`fence:${channel}`);
        return channel === 'fenced' ? false : next();
      },
    };
    server.use(audit);
    const removeFence = server.use(fence);

    expect(await subscribe(url, 'news')).toMatchObject({ t: 'subscribed', ch: 'news' });
    expect(await subscribe(url, 'fenced')).toMatchObject({ t: 'error', code: 'FORBIDDEN', ref: 'fenced' });
    expect(await subscribe(url, 'app-denied')).toMatchObject({ t: 'error', code: 'FORBIDDEN', ref: 'app-denied' });
    expect(calls).toEqual(['audit:news', 'fence:news', 'app:news', 'audit:fenced', 'fence:fenced', 'audit:app-denied', 'fence:app-denied', 'app:app-denied']);

    removeFence();
    calls.length = 0;
    expect(await subscribe(url, 'fenced')).toMatchObject({ t: 'subscribed', ch: 'fenced' });
    expect(calls).toEqual(['audit:fenced', 'app:fenced']);
  });

  it("a reload replaces the application's hook and leaves the extension's in place", async () => {
    const { server, url } = await kit.start({ authorizeSubscribe: (_c, channel) => channel !== 'old-rule' });
    server.use({ name: 'fence', authorizeSubscribe: (_c, channel, next) => (channel === 'fenced' ? false : next()) });
    expect(await subscribe(url, 'old-rule')).toMatchObject({ t: 'error', code: 'FORBIDDEN' });

    server.reconfigure({ authorizeSubscribe: (_c, channel) => channel !== 'new-rule' });
    expect(await subscribe(url, 'old-rule')).toMatchObject({ t: 'subscribed', ch: 'old-rule' });
    expect(await subscribe(url, 'new-rule')).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    expect(await subscribe(url, 'fenced')).toMatchObject({ t: 'error', code: 'FORBIDDEN' });
    // The application's settings are its own: the extension is not folded into them.
    expect(server.settings.authorizeSubscribe?.({} as never, 'fenced')).toBe(true);
  });

  it('admission: an extension may admit, refuse, or change what the application decided', async () => {
    const { server, url } = await kit.start({ authenticate: (info) => (info.headers['x-user'] === 'root' ? 'root' : (info.headers['x-user'] as string | undefined) ?? false) });
    server.use({
      name: 'guard',
      authenticate: async (info, _credentials, next) => {
        if (info.headers['x-blocked'] !== undefined) return { reject: 403 };
        const result = await next();
        // Nobody may take the identity this extension reserves, whatever the application says.
        return result === 'root' ? { reject: 403 } : result;
      },
    });
    expect(await upgrade(url, { 'x-user': 'ada' })).toBe('open');
    expect(await upgrade(url, { 'x-user': 'ada', 'x-blocked': '1' })).toBe(403);
    expect(await upgrade(url, { 'x-user': 'root' })).toBe(403);
    expect(await upgrade(url, {})).toBe(401);
  });

  it('refuses an extension with an unknown hook, a hook that is not a function, or no name', async () => {
    const { server } = await kit.start();
    expect(() => server.use({ name: 'typo', authorizeSubcribe: () => true } as unknown as ServerExtension)).toThrow(/unknown hook "authorizeSubcribe"/);
    expect(() => server.use({ name: 'bad', authenticate: 'yes' } as unknown as ServerExtension)).toThrow(TypeError);
    expect(() => server.use({ authorizePublish: () => true } as unknown as ServerExtension)).toThrow(/needs a name/);
  });
});
