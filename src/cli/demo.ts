import { PolicyViolationError, UnsupportedDataError, type MessageHandler, type SessionMessageHandler } from '../server/index.js';

/**
 * The `--demo` application: echoes text frames, and lets anyone watch the close codes happen.
 * - `crash`: the handler throws, so the connection closes with 1011 and an incident id;
 * - `crash-async`: the same from a rejected promise;
 * - `forbidden`: the handler rejects the request as a policy violation, 1008;
 * - any binary frame: 1003, the demo speaks text only.
 */
export const demoMessageHandler: MessageHandler = async (connection, data, isBinary) => {
  if (isBinary || typeof data !== 'string') throw new UnsupportedDataError('the demo echoes text frames only');
  switch (data) {
    case 'crash':
      // The message holds details a client must never see; the test suite checks they stay in the log.
      throw new Error('demo crash requested (internal detail: /srv/lifeline/handlers.ts:42 token=s3cr3t)');
    case 'crash-async':
      await Promise.resolve();
      throw new Error('demo async crash requested (internal detail: /srv/lifeline/handlers.ts:57 token=s3cr3t)');
    case 'forbidden':
      throw new PolicyViolationError('demo: forbidden is not allowed');
    default:
      connection.send(data);
  }
};

/** The `--demo` handler for acknowledged `lifeline.v1` messages: `"crash"` throws (1011, then a rejection on resend). */
export const demoSessionHandler: SessionMessageHandler = (_connection, data) => {
  if (data === 'crash') throw new Error('demo crash requested (internal detail: /srv/lifeline/handlers.ts:88 token=s3cr3t)');
};
