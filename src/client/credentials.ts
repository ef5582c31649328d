/**
 * The session's credentials (the `auth` option): fetched before every connection attempt and sent in
 * its `hello`, refreshed on a live connection before the server's `authTtlMs` runs out, and fetched
 * again after a 4802 (credentials expired or refused), which reconnects at once the first time.
 * @packageDocumentation
 */
import type { LifelineCloseCode } from '../codes/close-code.js';
import type { Json } from '../protocol/frames.js';
import { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import type { BackoffOptions, RandomSource } from './backoff.js';
import type { Clock } from './environment.js';
import { CredentialsError } from './errors.js';
import type { ClientOptions, UrlContext } from './options.js';
import { analyzeClose, diagnose } from './policy.js';
import type { PolicyDecision, PolicyFunction } from './policy.js';
import { Timer } from './timer.js';

/**
 * lifeline.v1's "credentials expired" close. A literal the compiler checks against the registry's
 * constant: the bundle need not carry the object.
 */
const CREDENTIALS_EXPIRED: (typeof LifelineCloseCode)['CREDENTIALS_EXPIRED'] = 4802;

/** Consecutive 4802 closes after which the session stops instead of fetching credentials again. */
const MAX_CREDENTIAL_RETRIES = 3;

/** What the credentials need from the session. @internal */
export interface CredentialsHost {
  /** Whether the session is welcomed on a connection (fresh credentials can be sent). */
  live(): boolean;
  /** Send an `auth` frame with fresh credentials. */
  send(value: Json): void;
  /** Fetching fresh credentials for a live connection failed. */
  failed(error: CredentialsError): void;
}

/**
 * One session's credentials.
 * @internal
 */
export class Credentials {
  readonly #auth: () => Json | PromiseLike<Json>;
  readonly #random: RandomSource;
  readonly #host: CredentialsHost;
  readonly #timer: Timer;
  /** Fetched for the attempt under way, sent in its `hello`. */
  #fetched: { readonly value: Json } | undefined;

  /** @param auth - the `auth` option */
  constructor(auth: () => Json | PromiseLike<Json>, clock: Clock, random: RandomSource, host: CredentialsHost) {
    this.#auth = auth;
    this.#random = random;
    this.#host = host;
    this.#timer = new Timer(clock);
  }

  /** The `url` option, with the credentials fetched first: a failure is a failed attempt, like the url's own. */
  url(url: ClientOptions['url']): (context: UrlContext) => Promise<string> {
    return async (context) => {
      const value = await this.#auth();
      const target = typeof url === 'function' ? await url(context) : url;
      this.#fetched = { value };
      return target;
    };
  }

  /**
   * The `policy` option, extended: after a 4802 the credentials are fetched again (by {@link Credentials.url})
   * and the session reconnects: at once the first time, with backoff the next, and stops after
   * {@link MAX_CREDENTIAL_RETRIES} in a row (credentials that keep being refused need a person). The
   * user's own policy is asked first.
   */
  policy(policy: PolicyFunction | undefined, backoff: Partial<BackoffOptions> | undefined): PolicyFunction {
    return (code, reason, attempt): PolicyDecision | undefined => {
      const chosen = policy?.(code, reason, attempt);
      if (chosen !== undefined || code !== CREDENTIALS_EXPIRED) return chosen;
      if (attempt > MAX_CREDENTIAL_RETRIES) {
        return { action: 'stop', diagnosis: diagnose(analyzeClose(code, reason), `${attempt} closes with 4802 in a row: sign in again, then call reconnect().`) };
      }
      return { action: 'reconnect', delayMs: attempt <= 1 ? 0 : backoffDelay(attempt - 1, { ...DEFAULT_BACKOFF, ...backoff }, this.#random) };
    };
  }

  /** The credentials fetched for the attempt under way, once (for its `hello`). */
  take(): { readonly value: Json } | undefined {
    const fetched = this.#fetched;
    this.#fetched = undefined;
    return fetched;
  }

  /** Refresh the credentials a minute before they expire, or half-way through when they last less than two. */
  schedule(ttlMs: number | undefined): void {
    this.cancel();
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs)) return;
    const delay = Math.max(ttlMs / 2, ttlMs - 60_000);
    this.#timer.start(delay, () => void this.#refresh(ttlMs - delay));
  }

  /** No refresh (the connection ended). */
  cancel(): void {
    this.#timer.cancel();
  }

  async #refresh(leftMs: number): Promise<void> {
    let value: Json;
    try {
      value = await this.#auth();
    } catch (error) {
      this.#host.failed(new CredentialsError({ cause: error }));
      // Try again while time is left; if it runs out, the server's 4802 reconnects with fresh credentials.
      if (this.#host.live() && leftMs > 2000) this.schedule(leftMs);
      return;
    }
    if (this.#host.live()) this.#host.send(value);
  }
}
