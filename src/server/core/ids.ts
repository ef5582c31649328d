import { randomBytes } from 'node:crypto';

/**
 * A new incident id, `inc_` + 12 hex digits. Short enough for a close reason, random so that
 * ids from many processes do not collide in a shared log, and meaningless to a client.
 */
export function newIncidentId(): string {
  return `inc_${randomBytes(6).toString('hex')}`;
}

let connectionCounter = 0;
const processTag = randomBytes(3).toString('hex');

/** A new connection id: unique within the process and distinguishable across processes. */
export function newConnectionId(): string {
  connectionCounter += 1;
  return `c_${processTag}_${connectionCounter.toString(36)}`;
}
