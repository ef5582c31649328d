/**
 * Policy questions answered from the registry: how a client reacts, and what an endpoint may send.
 * @packageDocumentation
 */
import { isCloseCodeValue } from './errors.js';
import { lookupFacts } from './facts.js';
import type { ReconnectClass } from './types.js';

/**
 * The client's default reaction to a close code, from its registry entry.
 * @throws InvalidCloseCodeError when `code` is not an integer in 0..4999
 */
export function classifyCode(code: number): ReconnectClass {
  return lookupFacts(code).reconnect;
}

/**
 * Whether an endpoint may put `code` in a Close frame (RFC 6455 §7.4 and the IANA registry):
 * 1000-1003, 1007-1014 and 3000-4999. Never throws; anything that is not a close code is `false`.
 */
export function isSendableCode(code: number): boolean {
  return isCloseCodeValue(code) && lookupFacts(code).onWire;
}
