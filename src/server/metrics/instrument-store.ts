/**
 * Time every operation of a {@link Store} into a Prometheus histogram, without changing what the store
 * does or exposes.
 * @packageDocumentation
 */
import type { Histogram } from 'prom-client';
import type { Store } from '../../store/types.js';

/** The members of `T` that are methods returning a promise: the operations worth timing. */
type AsyncMethodsOf<T> = {
  [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof T];

/**
 * A store operation, as it appears in the `operation` label: the method's name in the Store contract
 * (`stats`, a count for metrics scrapes, is not timed).
 */
export type StoreOperation = Exclude<AsyncMethodsOf<Store>, 'stats'>;

/** Labels of the store latency histogram. */
export type StoreLatencyLabel = 'operation' | 'result';

// A Record, not an array: the compiler refuses this object when the contract gains an async method that
// is not listed, so a new operation cannot go untimed by accident. It also bounds the `operation` label.
const TIMED: Readonly<Record<StoreOperation, true>> = {
  append: true,
  read: true,
  head: true,
  saveSession: true,
  updateSession: true,
  loadSession: true,
  deleteSession: true,
  claimMessage: true,
  finishMessage: true,
  sweep: true,
  close: true,
};

/** Every operation {@link instrumentStore} times, in contract order. */
export const STORE_OPERATIONS: readonly StoreOperation[] = Object.keys(TIMED) as StoreOperation[];

function isTimed(prop: PropertyKey): prop is StoreOperation {
  return typeof prop === 'string' && Object.hasOwn(TIMED, prop);
}

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Wrap `store` so that every async operation of the Store contract (`append`, `read`, `head`,
 * `saveSession`, `updateSession`, `loadSession`, `deleteSession`, `claimMessage`, `finishMessage`, `sweep`, `close`) is
 * observed in `histogram` with labels `operation` (the method name) and `result` (`ok` or `error`: a
 * rejection, or a synchronous throw, which is rethrown unchanged).
 *
 * Everything else passes through untouched and live: `kind`, `durable`, the `available` getter (read
 * on every access, so availability changes show), `watch`, `onAvailability`, and members a particular
 * engine adds. Methods run with the original store as `this`, so engines with private fields work.
 *
 * @param store - the store to observe; keep using the returned object in its place
 * @param histogram - a histogram with the labels `operation` and `result`, in seconds
 *   (see `createStoreLatencyHistogram`)
 * @returns a proxy with the same type as `store`
 */
export function instrumentStore<S extends Store>(store: S, histogram: Histogram<StoreLatencyLabel>): S {
  // One wrapper per member, kept while the member is the same function, so `proxy.read === proxy.read`.
  const wrappers = new Map<PropertyKey, { original: AnyFunction; wrapper: AnyFunction }>();

  const timed = (operation: StoreOperation, original: AnyFunction): AnyFunction =>
    function timedOperation(...args: unknown[]): unknown {
      const end = histogram.startTimer({ operation });
      let pending: unknown;
      try {
        pending = original.apply(store, args);
      } catch (error) {
        end({ result: 'error' });
        throw error;
      }
      return Promise.resolve(pending).then(
        (value) => {
          end({ result: 'ok' });
          return value;
        },
        (error: unknown) => {
          end({ result: 'error' });
          throw error;
        },
      );
    };

  const bound = (original: AnyFunction): AnyFunction =>
    function boundMember(...args: unknown[]): unknown {
      return original.apply(store, args);
    };

  return new Proxy(store, {
    get(target, prop) {
      // The target as receiver: getters such as `available` see the real store, not the proxy.
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const original = value as AnyFunction;
      const cached = wrappers.get(prop);
      if (cached?.original === original) return cached.wrapper;
      const wrapper = isTimed(prop) ? timed(prop, original) : bound(original);
      wrappers.set(prop, { original, wrapper });
      return wrapper;
    },
  });
}
