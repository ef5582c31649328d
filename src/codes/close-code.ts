/**
 * The registered close codes (RFC 6455 §7.4.1 and the IANA WebSocket Close Code Number Registry)
 * as an `as const` object, with the union types derived from it.
 * @packageDocumentation
 */

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

/** Constant-style key of a registered close code, e.g. `'SERVICE_RESTART'`. */
export type CloseCodeKey = keyof typeof CloseCode;

/** Union of the registered close code numbers (1000-1015). */
export type RegisteredCloseCode = (typeof CloseCode)[CloseCodeKey];

/** First registered code. */
export const FIRST_REGISTERED_CODE = 1000;

/** Last registered code. */
export const LAST_REGISTERED_CODE = 1015;

/** Largest value the registry explains; anything above is not a close code. */
export const MAX_CLOSE_CODE = 4999;

/**
 * The close codes of lifeline's own protocol (`lifeline.v1`), in the private-use range 4000-4999:
 * endpoints that speak `lifeline.v1` agree on them through its document (docs/protocol.md). A server
 * sends them only on `lifeline.v1` connections; applications should not give them other meanings.
 */
export const LifelineCloseCode = {
  /** The session was resumed on another connection; this one is closed (one live connection per session). */
  SESSION_TAKEN_OVER: 4801,
  /** The connection's credentials expired, or those in `hello` were refused: get fresh ones and reconnect. */
  CREDENTIALS_EXPIRED: 4802,
} as const;

/** Constant-style key of a {@link LifelineCloseCode}, e.g. `'SESSION_TAKEN_OVER'`. */
export type LifelineCloseCodeKey = keyof typeof LifelineCloseCode;
