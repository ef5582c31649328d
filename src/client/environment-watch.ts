/**
 * The client's watch on its environment (in a browser, `window`): `offline` pauses a reconnect wait
 * (every attempt would fail at once and burn the backoff), `online` resumes it, and a page becoming
 * visible checks a link that a throttled background tab may not have checked in time.
 * @packageDocumentation
 */
import type { ClientEnvironment } from './environment.js';

/** What the client does when the environment changes. */
export interface EnvironmentReactions {
  /** The network went away. */
  offline(): void;
  /** The network came back. */
  online(): void;
  /** The page became visible (or its visibility changed and it is not hidden). */
  visible(): void;
}

/** A started watch. @internal */
export interface EnvironmentWatch {
  /** Whether the environment last said it was offline (`navigator.onLine === false` at the start). */
  readonly offline: boolean;
  /** Remove the listeners. */
  stop(): void;
}

/**
 * Listen to `online`, `offline` and `visibilitychange` on `environment` (none: nothing is watched and
 * the client counts as online).
 * @internal
 */
export function watchEnvironment(environment: ClientEnvironment | undefined, react: EnvironmentReactions): EnvironmentWatch {
  let offline = environment?.navigator?.onLine === false;
  if (!environment) return { offline, stop: () => {} };
  const onOffline = (): void => {
    offline = true;
    react.offline();
  };
  const onOnline = (): void => {
    offline = false;
    react.online();
  };
  const onVisibility = (): void => {
    if (environment.document?.visibilityState !== 'hidden') react.visible();
  };
  environment.addEventListener('offline', onOffline);
  environment.addEventListener('online', onOnline);
  environment.addEventListener('visibilitychange', onVisibility);
  return {
    get offline() {
      return offline;
    },
    stop() {
      environment.removeEventListener('offline', onOffline);
      environment.removeEventListener('online', onOnline);
      environment.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
