/**
 * A drill's verdict: nothing acknowledged lost, duplicated or reordered, AND something was tested. A
 * drill that saw no restart, or whose publishes in one direction were all refused, proves nothing, so
 * it fails with a check that says what was missing and how to fix the setup. Pure; no I/O.
 * @packageDocumentation
 */
import type { ChannelReport } from './tally.js';

/** One condition of the verdict. */
export interface DrillCheck {
  /** Stable name: `lost`, `duplicated`, `out-of-order`, `unacknowledged`, `publisher`, `restarts`, `server-to-clients`, `clients-to-server`. */
  readonly name: string;
  readonly ok: boolean;
  /** What was seen, and on failure what to do, for people. */
  readonly detail: string;
}

/** What the verdict is made from. */
export interface VerdictInput {
  readonly totals: Omit<ChannelReport, 'channel'>;
  readonly unacknowledged: number;
  readonly publishAbandoned: number;
  readonly clientRejects: number;
  readonly rejectReasons: Readonly<Record<string, number>>;
  readonly restartsSeen: number;
  readonly expectRestarts: number;
  /** HTTP publishes per second per channel (0: that direction was not asked for). */
  readonly rate: number;
  /** Client publishes per second per client (0: that direction was not asked for). */
  readonly clientRate: number;
  readonly prefix: string;
}

function reasons(rejectReasons: Readonly<Record<string, number>>): string {
  return Object.entries(rejectReasons)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
}

/** Every check of a drill, in the order they are printed. */
export function drillChecks(input: VerdictInput): DrillCheck[] {
  const { totals } = input;
  const zero = (name: string, n: number, what: string): DrillCheck => ({ name, ok: n === 0, detail: `${n} ${what}` });
  const checks = [
    zero('lost', totals.lost, 'acknowledged messages some subscriber never got'),
    zero('duplicated', totals.duplicated, 'deliveries of a message a subscriber already had'),
    zero('out-of-order', totals.outOfOrder, 'deliveries before an earlier message of the same stream'),
    zero('unacknowledged', input.unacknowledged, 'client publishes neither acknowledged nor rejected by the end'),
    {
      name: 'publisher',
      ok: input.publishAbandoned === 0,
      detail: input.publishAbandoned === 0 ? 'every HTTP publish was acknowledged' : `${input.publishAbandoned} HTTP publishers gave up: the server stayed unreachable past --settle`,
    },
    {
      name: 'restarts',
      ok: input.restartsSeen >= input.expectRestarts,
      detail:
        input.restartsSeen >= input.expectRestarts
          ? `a client reconnected ${input.restartsSeen} times (at least ${input.expectRestarts} expected)`
          : `the most any client reconnected is ${input.restartsSeen}, but ${input.expectRestarts} restarts were expected: restart the server while the drill runs (or pass --expect-restarts 0 for a drill without restarts)`,
    },
  ];
  if (input.rate > 0) {
    const ok = totals.publishedHttp > 0 && totals.delivered > 0;
    checks.push({
      name: 'server-to-clients',
      ok,
      detail: ok ? `${totals.publishedHttp} HTTP publishes acknowledged, ${totals.delivered} deliveries` : `${totals.publishedHttp} HTTP publishes acknowledged and ${totals.delivered} delivered: nothing was tested from the server to the clients`,
    });
  }
  if (input.clientRate > 0) {
    const ok = totals.publishedByClients > 0;
    const refused = input.clientRejects > 0 ? `; ${input.clientRejects} rejected (${reasons(input.rejectReasons)})` : '';
    const forbidden = (input.rejectReasons.FORBIDDEN ?? 0) > 0 ? `: the server does not let clients publish to ${input.prefix}.* (lifeline serve --client-publish '${input.prefix.split('.')[0]}.*', or authorizePublish in code)` : '';
    checks.push({
      name: 'clients-to-server',
      ok,
      detail: ok ? `${totals.publishedByClients} client publishes acknowledged${refused}` : `no client publish was acknowledged${refused}${forbidden}`,
    });
  }
  return checks;
}
