/**
 * Types of restart-record.mjs (the restart storm's per-client bookkeeping), for the TypeScript tests
 * that check its rules.
 */

/** State shared by the records of one load-generator process. */
export interface Storm {
  /** When the restart was signalled (monotonic ms); Infinity until armed. */
  t0: number;
  /** The clock, monotonic ms. */
  now: () => number;
  attemptTimes: number[];
  closeTimes: number[];
}

/** One client's record: the hooks its implementation calls, and what they add up to. */
export interface ClientRecord {
  attempts: number;
  opens: number;
  up: boolean;
  closes: number;
  backAt: number | undefined;
  resumed: boolean | undefined;
  duplicates: number;
  /** Worst gap of this client (ms), undefined until an outage ended with a live message. */
  gap: number | undefined;
  gaps: number;
  noMessageBeforeClose: number;
  attempt(): void;
  open(): void;
  failed(): void;
  closed(): void;
  back(resumed: boolean): void;
  recovery(): void;
  receive(payload: { n: number; ts: number }): void;
}

/** Per-process outcome of {@link summarise}. */
export interface Summary {
  clients: number;
  backTimes: number[];
  gaps: number[];
  neverBack: number;
  neverClosed: number;
  closedMoreThanOnce: number;
  noLiveMessage: number;
  noMessageBeforeClose: number;
  resumed: number;
  lost: number;
  clientsWithLoss: number;
  duplicates: number;
}

export function newStorm(options?: { now?: () => number }): Storm;
export function newRecord(storm: Storm): ClientRecord;
export function nullRecord(): Pick<ClientRecord, 'attempt' | 'open' | 'failed' | 'closed' | 'back' | 'recovery' | 'receive'>;
export function isBack(record: ClientRecord): boolean;
export function summarise(records: ClientRecord[], acked: number[], storm: Storm): Summary;
