/** The session's phase: every transition of the one union that replaced the session's flags. */
import { describe, expect, it } from 'vitest';
import { isConnected, isWelcomed, nextPhase, type PhaseEvent, type SessionPhase } from '../../src/client/phase.js';

const disconnected: SessionPhase = { name: 'disconnected' };
const handshaking: SessionPhase = { name: 'handshaking', presentedToken: true };
const restoring: SessionPhase = { name: 'restoring', syncPing: 7 };
const ready: SessionPhase = { name: 'ready' };
const closed: SessionPhase = { name: 'closed' };
const all = [disconnected, handshaking, restoring, ready, closed];

describe('the session phase', () => {
  it('open starts a handshake, remembering whether the hello carried a token', () => {
    expect(nextPhase(disconnected, { type: 'open', presentedToken: false })).toEqual({ name: 'handshaking', presentedToken: false });
    expect(nextPhase(disconnected, { type: 'open', presentedToken: true })).toEqual(handshaking);
  });

  it('welcome: ready for a new (or not resumed) session, restoring until the sync pong for a resumed one', () => {
    expect(nextPhase(handshaking, { type: 'welcome' })).toEqual(ready);
    expect(nextPhase(handshaking, { type: 'welcome', syncPing: 7 })).toEqual(restoring);
  });

  it('a welcome outside the handshake changes nothing (the session reports it)', () => {
    for (const phase of [disconnected, restoring, ready]) expect(nextPhase(phase, { type: 'welcome' })).toBe(phase);
  });

  it('only the pong to the sync ping ends the restore', () => {
    expect(nextPhase(restoring, { type: 'pong', n: 7 })).toEqual(ready);
    expect(nextPhase(restoring, { type: 'pong', n: 6 })).toBe(restoring);
    expect(nextPhase(restoring, { type: 'pong', n: undefined })).toBe(restoring);
    for (const phase of [disconnected, handshaking, ready]) expect(nextPhase(phase, { type: 'pong', n: 7 })).toBe(phase);
  });

  it('disconnect ends any connection; close is final from anywhere', () => {
    for (const phase of [disconnected, handshaking, restoring, ready]) {
      expect(nextPhase(phase, { type: 'disconnect' })).toEqual(disconnected);
      expect(nextPhase(phase, { type: 'close' })).toEqual(closed);
    }
    const events: PhaseEvent[] = [{ type: 'open', presentedToken: false }, { type: 'welcome' }, { type: 'pong', n: 7 }, { type: 'disconnect' }, { type: 'close' }];
    for (const event of events) expect(nextPhase(closed, event)).toBe(closed);
  });

  it('connected from the open until the connection ends; welcomed while restoring and ready', () => {
    expect(all.map(isConnected)).toEqual([false, true, true, true, false]);
    expect(all.map(isWelcomed)).toEqual([false, false, true, true, false]);
  });
});
