/**
 * `lifeline/client`'s runtime exports, exactly: the factories, the classes they return, the defaults,
 * the error classes, `ProtocolErrorCode` and `parseReason`. The reconnect policy, the delay math and the
 * session's parts are internal (imported from their src paths by the tests that need them), so they can
 * change without breaking users.
 */
import { describe, expect, it } from 'vitest';
import * as client from '../../src/client/index.js';

describe('the public client entry', () => {
  it('exports the surface and nothing else at run time', () => {
    expect(Object.keys(client).sort()).toEqual(
      [
        'CLIENT_DEFAULTS',
        'ClientClosedError',
        'ConnectError',
        'CredentialsError',
        'DEFAULT_BACKOFF',
        'DEFAULT_HINT_LIMITS',
        'DEFAULT_SOON',
        'DeadLinkError',
        'DeclinedError',
        'ProtocolErrorCode',
        'LifelineClient',
        'LifelineError',
        'LifelineSession',
        'ListenerError',
        'NotOpenError',
        'PolicyError',
        'QueueFullError',
        'RejectedError',
        'SESSION_DEFAULTS',
        'ServerError',
        'ServerFrameError',
        'SocketError',
        'SubprotocolError',
        'UrlError',
        'WebSocketUnavailableError',
        'createClient',
        'createSession',
        'parseReason',
      ].sort(),
    );
  });
});
