/**
 * Bookkeeping of a drill: what was published (acknowledged by the server) and what each subscriber
 * delivered to its application, and the verdict: lost, duplicated, out of order. Pure; no I/O.
 * @packageDocumentation
 */

/** The payload every drill message carries, so receivers can check it. */
export interface DrillPayload {
  /** Which stream: `http` (the HTTP publisher) or `c<n>` (client n's acknowledged publishes). */
  readonly src: string;
  /** Sequence number within the stream, from 1. */
  readonly seq: number;
  /** Publisher's clock when it first tried to publish, ms. */
  readonly at: number;
}

/** Per-channel results. */
export interface ChannelReport {
  channel: string;
  subscribers: number;
  /** Messages the server acknowledged (HTTP 200 or `ack`). */
  published: number;
  /** Of which from the HTTP publisher / from clients. */
  publishedHttp: number;
  publishedByClients: number;
  /** Deliveries to applications (a message counts once per subscriber). */
  delivered: number;
  /** Acknowledged messages some subscriber never got. */
  lost: number;
  /** Deliveries of a message a subscriber already had. */
  duplicated: number;
  /** Deliveries that came before an earlier message of the same stream. */
  outOfOrder: number;
  /** Reconnections of this channel's subscribers. */
  reconnects: number;
  /** Reconnections that resumed their session / that were told something was not recovered. */
  resumed: number;
  notRecovered: number;
  /** Longest time one subscriber went without a delivery while the publisher kept publishing, ms. */
  worstGapMs: number;
}

/** Tracks one subscriber's deliveries. */
export class SubscriberTally {
  private readonly seen = new Set<string>();
  private readonly lastSeq = new Map<string, number>();
  duplicated = 0;
  outOfOrder = 0;
  delivered = 0;
  reconnects = 0;
  resumed = 0;
  notRecovered = 0;
  private lastAt = 0;
  worstGapMs = 0;

  constructor(readonly channel: string) {}

  /** Record one delivery. */
  deliver(payload: DrillPayload, now: number): void {
    this.delivered += 1;
    const key = `${payload.src}:${payload.seq}`;
    if (this.seen.has(key)) {
      this.duplicated += 1;
      return;
    }
    this.seen.add(key);
    const last = this.lastSeq.get(payload.src) ?? 0;
    if (payload.seq < last) this.outOfOrder += 1;
    else this.lastSeq.set(payload.src, payload.seq);
    if (this.lastAt !== 0) this.worstGapMs = Math.max(this.worstGapMs, now - this.lastAt);
    this.lastAt = now;
  }

  /** Whether this subscriber has the message. */
  has(src: string, seq: number): boolean {
    return this.seen.has(`${src}:${seq}`);
  }
}

/** The acknowledged messages of one channel, by stream. */
export class PublishedLog {
  private readonly acked = new Map<string, Set<number>>();

  /** Record an acknowledged message. */
  ack(src: string, seq: number): void {
    let set = this.acked.get(src);
    if (!set) this.acked.set(src, (set = new Set()));
    set.add(seq);
  }

  /** Total acknowledged. */
  get count(): number {
    let n = 0;
    for (const s of this.acked.values()) n += s.size;
    return n;
  }

  /** Acknowledged from one kind of source. */
  countWhere(predicate: (src: string) => boolean): number {
    let n = 0;
    for (const [src, s] of this.acked) if (predicate(src)) n += s.size;
    return n;
  }

  /** Messages acknowledged but missing at `subscriber`. */
  missingAt(subscriber: SubscriberTally): number {
    let missing = 0;
    for (const [src, seqs] of this.acked) for (const seq of seqs) if (!subscriber.has(src, seq)) missing += 1;
    return missing;
  }
}

/** Fold the tallies of one channel into its report. */
export function channelReport(channel: string, log: PublishedLog, subscribers: readonly SubscriberTally[]): ChannelReport {
  const sum = (f: (s: SubscriberTally) => number) => subscribers.reduce((n, s) => n + f(s), 0);
  return {
    channel,
    subscribers: subscribers.length,
    published: log.count,
    publishedHttp: log.countWhere((src) => src === 'http'),
    publishedByClients: log.countWhere((src) => src !== 'http'),
    delivered: sum((s) => s.delivered),
    lost: sum((s) => log.missingAt(s)),
    duplicated: sum((s) => s.duplicated),
    outOfOrder: sum((s) => s.outOfOrder),
    reconnects: sum((s) => s.reconnects),
    resumed: sum((s) => s.resumed),
    notRecovered: sum((s) => s.notRecovered),
    worstGapMs: Math.max(0, ...subscribers.map((s) => s.worstGapMs)),
  };
}
