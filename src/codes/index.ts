/**
 * PLACEHOLDER — to be replaced by the full registry (registry data, en/zh texts, compare).
 * The signatures below are the contract; keep them.
 */
import { LifelineError } from '../errors.js';
import type { Comparison, Explanation, Lang, ReconnectClass } from './types.js';
export * from './types.js';

/** Thrown for a value that is not a close code (not an integer, negative, or >= 5000). */
export class InvalidCloseCodeError extends LifelineError {
  constructor(value: unknown) {
    super('LIFELINE_ERR_INVALID_CLOSE_CODE', `not a close code: ${String(value)} (expected an integer 0-4999)`);
  }
}

/** Registered close codes by constant-style key. */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  RESERVED: 1004,
  NO_STATUS_RECEIVED: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  TLS_HANDSHAKE: 1015,
} as const;

/** Union of the registered close code numbers. */
export type RegisteredCloseCode = (typeof CloseCode)[keyof typeof CloseCode];

function check(code: unknown): number {
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code >= 5000) throw new InvalidCloseCodeError(code);
  return code;
}

/** The client's default reaction to a close code. */
export function classifyCode(code: number): ReconnectClass {
  check(code);
  if (code === 1001 || code === 1012) return 'reconnect-soon';
  if (code === 1006 || code === 1011 || code === 1013 || code === 1014) return 'backoff';
  if (code >= 3000) return 'application';
  return 'stop';
}

/** Explain one code. */
export function explainCode(code: unknown, lang: Lang = 'en'): Explanation {
  const c = check(code);
  return {
    code: c, lang, kind: 'registered', range: [c, c], sender: 'either', onWire: true,
    reconnect: classifyCode(c), source: 'RFC 6455', name: `Code ${c}`, description: '', when: '', fix: '',
  };
}

/** Compare two codes. */
export function compareCodes(a: unknown, b: unknown, lang: Lang = 'en'): Comparison {
  return { lang, a: explainCode(a, lang), b: explainCode(b, lang), difference: '', whenEach: '', whatToDo: '' };
}

/** Whether a code may be sent in a Close frame by an endpoint (RFC 6455 §7.4 and the IANA registry). */
export function isSendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
