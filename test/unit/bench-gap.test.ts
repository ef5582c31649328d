/**
 * The restart storm's gap rules (bench/lib/restart-record.mjs): a pure bookkeeping of hooks on a given
 * clock, so a hand-driven clock checks the definition exactly. The same code runs for real in every
 * restart storm (test/integration/bench-smoke.test.ts checks that each client gets a gap there).
 */
import { describe, expect, it } from 'vitest';
import { isBack, newRecord, newStorm, summarise } from '../../bench/lib/restart-record.mjs';

/** A storm armed at t0 = 1000 on a clock the test moves. */
function storm() {
  let now = 0;
  const s = newStorm({ now: () => now });
  s.t0 = 1000;
  return { s, at: (ms: number) => (now = ms) };
}

describe('the restart storm gap', () => {
  it('runs from the last message before the close to the first message published after the return', () => {
    const { s, at } = storm();
    const r = newRecord(s);
    at(990);
    r.receive({ n: 1, ts: 985 });
    at(1200);
    r.closed();
    at(3000);
    r.back(true);
    // Replayed: published while the client was away, so not live, however late it arrives.
    at(3005);
    r.receive({ n: 2, ts: 1500 });
    at(3010);
    r.receive({ n: 3, ts: 2990 });
    expect(r.gap).toBeUndefined();
    // The first message published after the return ends the gap on arrival.
    at(3040);
    r.receive({ n: 4, ts: 3020 });
    expect(r.gap).toBe(3040 - 990);
    expect(isBack(r)).toBe(true);
    expect(r.backAt).toBe(2000);
    expect(r.resumed).toBe(true);
  });

  it('keeps counting from the first close when the client is closed again before anything live', () => {
    const { s, at } = storm();
    const r = newRecord(s);
    at(990);
    r.receive({ n: 1, ts: 985 });
    at(1100);
    r.closed();
    at(2000);
    r.back(true);
    at(2001);
    r.receive({ n: 2, ts: 1500 }); // replayed only
    at(2100);
    r.closed(); // moved again (a rolling restart's next worker)
    at(4000);
    r.back(true);
    at(4050);
    r.receive({ n: 3, ts: 4010 });
    expect(r.closes).toBe(2);
    expect(r.gaps).toBe(1);
    expect(r.gap).toBe(4050 - 990);
    expect(r.backAt).toBe(3000); // the latest return
  });

  it('reports the worse of two outages with live messages in between', () => {
    const { s, at } = storm();
    const r = newRecord(s);
    at(1000);
    r.receive({ n: 1, ts: 995 });
    at(1100);
    r.closed();
    at(1500);
    r.back(false);
    at(1520);
    r.receive({ n: 2, ts: 1510 }); // gap 520
    at(2000);
    r.closed();
    at(3000);
    r.back(false);
    at(3030);
    r.receive({ n: 3, ts: 3010 }); // gap 3030 - 1520 = 1510
    expect(r.gaps).toBe(2);
    expect(r.gap).toBe(1510);
  });

  it('ignores what happens before the signal, and closes of attempts that never opened', () => {
    const { s, at } = storm();
    const r = newRecord(s);
    at(500);
    r.receive({ n: 1, ts: 490 });
    r.attempt();
    r.closed(); // before t0: not the restart's
    expect(r.closes).toBe(0);
    expect(r.up).toBe(true);
    at(1100);
    r.closed();
    at(1200);
    r.attempt();
    r.closed(); // the failed attempt's close, while down
    at(1300);
    r.attempt();
    r.open();
    r.back(false);
    expect(r.closes).toBe(1);
    expect(r.attempts).toBe(2);
    expect(r.opens).toBe(1);
    expect(s.attemptTimes).toEqual([200, 300]);
    expect(s.closeTimes).toEqual([100]);
  });

  it('sums up losses, clients never closed and outages without a live message', () => {
    const { s, at } = storm();
    const closedAndCaughtUp = newRecord(s);
    const neverClosed = newRecord(s);
    const backButNothingLive = newRecord(s);
    at(900);
    for (const r of [closedAndCaughtUp, neverClosed, backButNothingLive]) r.receive({ n: 1, ts: 890 });
    at(1100);
    closedAndCaughtUp.closed();
    backButNothingLive.closed();
    at(1500);
    closedAndCaughtUp.back(true);
    backButNothingLive.back(true);
    at(1600);
    closedAndCaughtUp.receive({ n: 2, ts: 1550 });
    neverClosed.receive({ n: 2, ts: 1550 });
    const out = summarise([closedAndCaughtUp, neverClosed, backButNothingLive], [1, 2], s);
    expect(out.clients).toBe(3);
    expect(out.neverClosed).toBe(1);
    expect(out.neverBack).toBe(1); // not closed, so not back from anything
    expect(out.gaps).toEqual([700]);
    expect(out.noLiveMessage).toBe(1);
    expect(out.lost).toBe(1);
    expect(out.clientsWithLoss).toBe(1);
    expect(out.resumed).toBe(2);
  });
});
