/**
 * Resume tokens. A token is `<session id>.<secret>`: the secret is 256 bits from the CSPRNG, and only
 * its SHA-256 is stored, so a leaked store does not leak tokens. Verification compares hashes in
 * constant time and checks expiry and the owner, so a forged, expired or someone else's token never
 * resumes a session.
 * @packageDocumentation
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionRecord } from '../../store/types.js';

/** A freshly minted session id and token. */
export interface MintedToken {
  readonly sessionId: string;
  readonly token: string;
  readonly tokenHash: string;
}

const SESSION_ID = /^s_[A-Za-z0-9_-]{22}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** Hash of a token secret, hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Mint a new session id and resume token. */
export function mintToken(): MintedToken {
  const sessionId = `s_${randomBytes(16).toString('base64url')}`;
  const secret = randomBytes(32).toString('base64url');
  return { sessionId, token: `${sessionId}.${secret}`, tokenHash: hashSecret(secret) };
}

/** Split a presented token; undefined when it is not even shaped like one. */
export function parseToken(token: string): { sessionId: string; secret: string } | undefined {
  const dot = token.indexOf('.');
  if (dot === -1) return undefined;
  const sessionId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (!SESSION_ID.test(sessionId) || !SECRET.test(secret)) return undefined;
  return { sessionId, secret };
}

/**
 * Whether `secret` proves ownership of `session` for `user` at time `now`.
 * @param user - the identity of the connection presenting the token (undefined when unauthenticated)
 */
export function verifyToken(session: SessionRecord, secret: string, user: string | undefined, now: number): boolean {
  const expected = Buffer.from(session.tokenHash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const hashOk = expected.length === actual.length && timingSafeEqual(expected, actual);
  return hashOk && session.expiresAt > now && session.user === user;
}
