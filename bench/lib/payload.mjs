import { monoMs } from './stats.mjs';

/**
 * A numbered message carrying its send time (monotonic ms, comparable across processes), padded so its
 * JSON text is exactly `size` bytes: `{"n":17,"ts":123456.789,"p":"xxxx…"}`.
 */
export function makePayload(n, size) {
  const message = { n, ts: monoMs(), p: '' };
  const length = JSON.stringify(message).length;
  message.p = 'x'.repeat(Math.max(0, size - length));
  return message;
}

/** The 64-byte text the echo scenario sends. */
export const ECHO_TEXT = 'e'.repeat(64);
