/**
 * The table of `lifeline probe`.
 * @packageDocumentation
 */
import { defineCommand, option, OUTPUT_OPTIONS } from '../spec.js';
import { duration, flag, oneOf, texts } from '../values.js';

/** `lifeline probe`. */
export const PROBE = defineCommand({
  name: 'probe',
  summary: 'connect once; report the handshake, the messages and the close, explained',
  description: [
    'Connects as a plain WebSocket client (or a lifeline.v1 one) and shows what a client would see: the handshake, or the HTTP status that refused it (503 with Retry-After during a drain), the messages, and the close explained from the registry with its incident= and retry= fields. The exit status is the close\'s reconnect class, for scripts and health checks.',
  ],
  positionals: [{ name: 'url', help: 'ws:// or wss:// URL', required: true }],
  options: {
    subprotocol: option({ flag: 'subprotocol', type: flag, help: 'speak lifeline.v1: send hello, report the welcome (the resume token is never printed)' }),
    send: option({ flag: 'send', type: texts('TEXT'), help: 'send TEXT once open (repeatable, in order; after hello with --subprotocol, so write lifeline.v1 frames as JSON)' }),
    timeout: option({ flag: 'timeout', short: 't', type: duration, default: 10_000, help: 'how long the whole probe may take; still open then: close with 1000' }),
    lang: option({ flag: 'lang', short: 'l', type: oneOf(['en', 'zh'] as const), default: 'en', help: 'language of the explanations' }),
    ...OUTPUT_OPTIONS,
  },
  exits: [
    [0, 'open until the timeout, or closed with 1000'],
    [2, 'usage error (one line on stderr)'],
    [3, 'reconnect soon: 1001, 1012 (a planned restart; clients come back within the retry= window)'],
    [4, 'back off: 1006, 1011, 1013, 1014, or the handshake was refused (e.g. 503 during a drain) or failed'],
    [5, 'stop: 1002, 1003, 1007-1010, 1015, ... (retrying unchanged cannot help)'],
    [6, 'an application code, 3000-4999'],
  ],
  examples: ['lifeline probe ws://127.0.0.1:8080/ --send crash', 'lifeline probe ws://127.0.0.1:8080/ --timeout 60s', 'lifeline probe ws://127.0.0.1:8080/ --subprotocol --json'],
});
