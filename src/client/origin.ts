/**
 * The session's origin: a random id made once per session object and sent in every `hello`. The
 * server deduplicates message ids per origin, so a resend is recognised even when the session itself
 * could not be resumed.
 * @packageDocumentation
 */
import { draw } from './backoff.js';
import type { RandomSource } from './backoff.js';

/**
 * A random 128-bit origin as 32 hex characters. The platform's CSPRNG when there is one: an injected
 * deterministic `random` (common in tests) would give two sessions the same origin, and the server
 * would then treat one's messages as resends of the other's.
 * @internal
 */
export function makeOrigin(random: RandomSource): string {
  const bytes = new Uint8Array(16);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (crypto && typeof crypto.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(draw(random) * 256);
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
