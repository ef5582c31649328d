/**
 * The session's phase: one value instead of a handful of flags, and the one function that moves it.
 *
 * ```
 *              open                welcome (new, or not resumed)
 * disconnected ────► handshaking ─────────────────────────────► ready
 *      ▲                  │ welcome (same session resumed)        ▲
 *      │                  ▼                                       │ pong to the sync ping
 *      │             restoring ───────────────────────────────────┘
 *      └── disconnect (from handshaking, restoring, ready)
 * close (from anywhere) ──► closed (final)
 * ```
 *
 * `restoring` is a resumed session whose server is still restoring its channels: messages flow, and
 * the server answers the session's sync `ping` once every restored channel has had its `subscribed`;
 * channels still not live then are subscribed again. Pure: the session acts on the transitions.
 * @packageDocumentation
 */

/** Where the session is. @internal */
export type SessionPhase =
  /** `close()` was called: final. */
  | { readonly name: 'closed' }
  /** No connection the session speaks on (the transport is connecting, waiting, stopped ...). */
  | { readonly name: 'disconnected' }
  /** The socket is open and `hello` sent; waiting for `welcome`. */
  | {
      readonly name: 'handshaking';
      /** Whether the `hello` carried a resume token (a `welcome` that is not a resume then means a loss). */
      readonly presentedToken: boolean;
    }
  /** Welcomed as the same session; the server is restoring its channels until it answers `syncPing`. */
  | { readonly name: 'restoring'; readonly syncPing: number }
  /** Welcomed: subscriptions, messages and acknowledgements flow. */
  | { readonly name: 'ready' };

/** What happens to the session. @internal */
export type PhaseEvent =
  /** The socket opened with `lifeline.v1`; the `hello` goes out. */
  | { readonly type: 'open'; readonly presentedToken: boolean }
  /** The server's `welcome`; `syncPing` when it resumed the same session and a sync ping went out. */
  | { readonly type: 'welcome'; readonly syncPing?: number }
  /** A `pong`, with its number if it had one. */
  | { readonly type: 'pong'; readonly n: number | undefined }
  /** The connection ended. */
  | { readonly type: 'disconnect' }
  /** `close()`. */
  | { readonly type: 'close' };

/** The phase after `event` (`phase` itself when the event changes nothing). @internal */
export function nextPhase(phase: SessionPhase, event: PhaseEvent): SessionPhase {
  if (phase.name === 'closed') return phase;
  switch (event.type) {
    case 'close':
      return { name: 'closed' };
    case 'disconnect':
      return { name: 'disconnected' };
    case 'open':
      return { name: 'handshaking', presentedToken: event.presentedToken };
    case 'welcome':
      if (phase.name !== 'handshaking') return phase;
      return event.syncPing === undefined ? { name: 'ready' } : { name: 'restoring', syncPing: event.syncPing };
    case 'pong':
      return phase.name === 'restoring' && event.n === phase.syncPing ? { name: 'ready' } : phase;
  }
}

/** Whether the session has a connection it speaks on (from `open` until the connection ends). @internal */
export function isConnected(phase: SessionPhase): boolean {
  return phase.name !== 'closed' && phase.name !== 'disconnected';
}

/** Whether the server welcomed the session on the current connection (messages flow). @internal */
export function isWelcomed(phase: SessionPhase): boolean {
  return phase.name === 'restoring' || phase.name === 'ready';
}
