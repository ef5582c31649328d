/**
 * How the client's and the session's events reach the application, and where bugs in the
 * application's code go. A listener that throws, or a `policy` option that misbehaves, must neither
 * unwind the state machine that called it nor vanish: it is reported on `error` as a
 * {@link ListenerError} (or a {@link PolicyError}) when someone listens there, and otherwise rethrown
 * on a microtask so the platform reports it. A throwing `error` listener has nowhere else to go: rethrown.
 * @packageDocumentation
 */
import type { LifelineError } from '../errors.js';
import { Emitter } from '../util/emitter.js';
import { rethrowAsync } from '../util/rethrow.js';
import { ListenerError } from './errors.js';

/** An emitter for the application's listeners, and the way to report a bug in the application's code. @internal */
export interface Listeners<Events extends { error: LifelineError }> {
  readonly emitter: Emitter<Events>;
  /** Report `error` on `error` if anyone listens; otherwise rethrow `original` asynchronously. */
  reportBug(error: LifelineError, original: unknown): void;
}

/** A fresh emitter for the application's listeners, with its bug reporting. @internal */
export function createListeners<Events extends { error: LifelineError }>(): Listeners<Events> {
  const emitter: Emitter<Events> = new Emitter<Events>((error, event) => {
    if (event === 'error') rethrowAsync(error);
    else reportBug(new ListenerError(String(event), { cause: error }), error);
  });
  const reportBug = (error: LifelineError, original: unknown): void => {
    if (emitter.has('error')) emitter.emit('error', error as Events['error']);
    else rethrowAsync(original);
  };
  return { emitter, reportBug };
}
