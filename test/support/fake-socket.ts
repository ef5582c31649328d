/**
 * A {@link TransportSocket} that records what the core does to it, for unit tests of the core's rules:
 * no network, no `ws`. {@link openFake} hands one to a core, as a transport would after a handshake.
 */
import type { Clock } from '../../src/server/core/clock.js';
import type { ServerCore } from '../../src/server/core/server-core.js';
import type { TransportEvents, TransportSocket, UpgradeInfo } from '../../src/server/core/transport.js';

/** One Close the core started. */
export interface SentClose {
  readonly code: number;
  readonly reason: string;
  /** When, on the test's clock. */
  readonly at: number;
}

/** How the fake peer behaves. */
export interface FakePeer {
  /** The negotiated subprotocol. @default '' (a plain client) */
  readonly protocol?: string;
  /** Whether it answers our Close (the transport then reports `closed`); false: a straggler. @default true */
  readonly answersClose?: boolean;
  /** Whether a terminated socket reports `closed` (as `ws` does, with 1006). @default true */
  readonly reportsTerminate?: boolean;
}

/** A socket whose peer is the test. */
export class FakeSocket implements TransportSocket {
  readonly protocol: string;
  readonly sent: (string | Uint8Array)[] = [];
  readonly closes: SentClose[] = [];
  terminatedAt: number | undefined;
  pings = 0;
  reading = true;
  buffered = 0;
  /** The core's sink for this socket's events (set by {@link openFake}). */
  events!: TransportEvents;
  #done = false;

  constructor(
    private readonly clock: Clock,
    private readonly peer: FakePeer = {},
  ) {
    this.protocol = peer.protocol ?? '';
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  send(data: string | Uint8Array): boolean {
    if (this.closes.length > 0 || this.#done) return false;
    this.sent.push(data);
    return true;
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason, at: this.clock.now() });
    if (this.peer.answersClose ?? true) queueMicrotask(() => this.report(code, reason));
  }

  terminate(): void {
    this.terminatedAt ??= this.clock.now();
    if (this.peer.reportsTerminate ?? true) queueMicrotask(() => this.report(1006, ''));
  }

  ping(): void {
    this.pings += 1;
  }

  pause(): void {
    this.reading = false;
  }

  resume(): void {
    this.reading = true;
  }

  onDrain(listener: () => void): void {
    queueMicrotask(listener);
  }

  /** The transport reports the close (once, as `ws` does). */
  report(code: number, reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.events.closed(code, reason);
  }

  /** The last Close the core started. */
  get closed(): SentClose | undefined {
    return this.closes.at(-1);
  }
}

const INFO: UpgradeInfo = { remoteAddress: '127.0.0.1', url: '/', headers: {} };

/** Hand a fake socket to `core`, as a transport does once the handshake completed. */
export function openFake(core: ServerCore, clock: Clock, peer: FakePeer = {}): FakeSocket {
  const socket = new FakeSocket(clock, peer);
  socket.events = core.accept(socket, INFO);
  return socket;
}

/** A logger that keeps its entries, for tests that read what was logged. */
export function recordingLogger(): { entries: { level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; message: string }[] } & Record<'info' | 'warn' | 'error', (fields: object, message: string) => void> {
  const entries: { level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; message: string }[] = [];
  const at = (level: 'info' | 'warn' | 'error') => (fields: object, message: string) => {
    entries.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}
