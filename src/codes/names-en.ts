/**
 * The English names of the close codes and ranges: what a client says about a close by default, and
 * the `name` of the English texts, from this one place.
 * @packageDocumentation
 */
import type { CloseCodeKey, LifelineCloseCodeKey } from './close-code.js';
import type { RangeKind } from './locale.js';

/** English name of each registered code, and of lifeline.v1's own. */
export const CODE_NAMES_EN: Readonly<Record<CloseCodeKey | LifelineCloseCodeKey, string>> = {
  NORMAL_CLOSURE: 'Normal Closure',
  GOING_AWAY: 'Going Away',
  PROTOCOL_ERROR: 'Protocol Error',
  UNSUPPORTED_DATA: 'Unsupported Data',
  RESERVED: 'Reserved',
  NO_STATUS_RECEIVED: 'No Status Received',
  ABNORMAL_CLOSURE: 'Abnormal Closure',
  INVALID_PAYLOAD: 'Invalid Frame Payload Data',
  POLICY_VIOLATION: 'Policy Violation',
  MESSAGE_TOO_BIG: 'Message Too Big',
  MANDATORY_EXTENSION: 'Mandatory Extension',
  INTERNAL_ERROR: 'Internal Error',
  SERVICE_RESTART: 'Service Restart',
  TRY_AGAIN_LATER: 'Try Again Later',
  BAD_GATEWAY: 'Bad Gateway',
  TLS_HANDSHAKE: 'TLS Handshake',
  SESSION_TAKEN_OVER: 'Session Taken Over',
  CREDENTIALS_EXPIRED: 'Credentials Expired',
};

/** English name of each range. */
export const RANGE_NAMES_EN: Readonly<Record<RangeKind, string>> = {
  unused: 'Unused',
  reserved: 'Reserved for Future Standards',
  library: 'Registered by a Library or Framework',
  application: 'Private Use',
};
