/**
 * What to do after a close: the registry's reconnect class, the server's hint, the user's
 * overrides, and the delay math, folded into one pure {@link decide} function.
 * No state and no clock: the client passes the attempt number and the random source in.
 * @packageDocumentation
 */
// Never '../codes/index.js': that would bring the registry's English and Chinese texts into every bundle.
// The outline (English names and default reactions) is all of the registry the client carries by default.
import { outlineOf, type CodeOutline } from '../codes/outline.js';
import type { Explanation, Lang, ReconnectClass } from '../codes/types.js';
import { parseReason } from '../protocol/close-reason.js';
import type { RetryHint } from '../protocol/close-reason.js';
import {
  DEFAULT_BACKOFF,
  DEFAULT_HINT_LIMITS,
  DEFAULT_SOON,
  backoffDelay,
  clampWindow,
  uniformDelay,
} from './backoff.js';
import type { BackoffOptions, DelayWindow, RandomSource } from './backoff.js';
import { PolicyError } from './errors.js';

/** A reconnect class the client can act on directly (`application` resolved through the option). */
export type ActionClass = Exclude<ReconnectClass, 'application'>;

/**
 * Maps an application close code (3000-4999) to what the client should do.
 * Return `'stop'` for codes that mean "do not come back" (the default for every application code).
 */
export type ApplicationCodes = (code: number) => ActionClass;

/**
 * Explains a close code for people: names, descriptions, advice. The client's default knows the English
 * names only (no prose in the bundle); pass `explainCode` from `lifeline/codes` for the registry's full
 * texts, in English or Chinese. May throw for a code it does not know (the client falls back to 1006's).
 */
export type Explainer = (code: number, lang: Lang) => Explanation;

/** A decision returned by a user's {@link PolicyFunction}. */
export type PolicyDecision =
  | { readonly action: 'reconnect'; /** Delay before the next attempt, in milliseconds (>= 0). */ readonly delayMs: number }
  | { readonly action: 'stop'; /** Shown to people; built from the registry when omitted. */ readonly diagnosis?: string };

/**
 * A user override consulted on every close, before the defaults.
 * Return a {@link PolicyDecision}, or `undefined` to let the default policy decide.
 * @param code - the close code as reported by the WebSocket implementation
 * @param reason - the raw close reason (parse it with `parseReason` for `incident=`/`retry=`)
 * @param attempt - consecutive failures including this one; 1 after the first close
 */
export type PolicyFunction = (code: number, reason: string, attempt: number) => PolicyDecision | undefined;

/** Why a reconnect got its delay. @internal */
export type ReconnectReason =
  /** a planned event (1001, 1012): uniform in the `soon` window */
  | 'soon'
  /** a failure: exponential backoff with full jitter */
  | 'backoff'
  /** the server's `retry=` hint, clamped into `hintLimits` */
  | 'hint'
  /** the user's `policy` option decided */
  | 'policy';

/** The outcome of {@link decide}. @internal */
export type Decision =
  | { readonly action: 'reconnect'; /** milliseconds */ readonly delayMs: number; readonly reason: ReconnectReason }
  | { readonly action: 'stop'; /** why the client stopped, for people */ readonly diagnosis: string };

/** Everything {@link decide} needs besides the close itself. Only `random` is required. @internal */
export interface PolicyConfig {
  /** Random source in [0, 1); drawn once per decision. */
  readonly random: RandomSource;
  /** Window for reconnect-soon codes without a hint, in milliseconds. @default { minMs: 1000, maxMs: 5000 } */
  readonly soon?: DelayWindow;
  /** Exponential backoff settings. @default { baseMs: 500, factor: 2, capMs: 30000 } */
  readonly backoff?: BackoffOptions;
  /** Bounds a server's `retry=` hint is clamped into, in milliseconds. @default { minMs: 0, maxMs: 60000 } */
  readonly hintLimits?: DelayWindow;
  /** Language of names and diagnoses (other than `en` needs `explain`). @default 'en' */
  readonly lang?: Lang;
  /** The texts of names, descriptions and diagnoses. @default English names only, no descriptions or advice */
  readonly explain?: Explainer;
  /** What to do for application codes (3000-4999). @default () => 'stop' */
  readonly applicationCodes?: ApplicationCodes;
  /** User override, consulted first. */
  readonly policy?: PolicyFunction;
  /** Told when `policy` or `applicationCodes` throws or returns something invalid (the default is used). */
  readonly onError?: (error: PolicyError) => void;
}

/** The texts of a close the client uses: its name, description and advice, in one language. @internal */
export type CloseTexts = Pick<Explanation, 'code' | 'lang' | 'name' | 'description' | 'fix'>;

/** What a close means, read from the registry and the reason. @internal */
export interface CloseFacts {
  /** The code as reported. */
  readonly code: number;
  /** The registry's class; `backoff` for codes no peer may legitimately report (treated like 1006). */
  readonly registryClass: ReconnectClass;
  /** The class acted on, with `application` resolved through the `applicationCodes` option. */
  readonly actionClass: ActionClass;
  /** Whether the code is outside 1000-1015 and 3000-4999 (or not an integer) and so handled like 1006. */
  readonly unexpected: boolean;
  /** The registry's explanation (1006's for a code the registry rejects). */
  readonly explanation: CloseTexts;
  /** The reason's human text, without fields. */
  readonly text: string;
  /** `incident=` from the reason. */
  readonly incident?: string;
  /** `retry=` from the reason. */
  readonly retry?: RetryHint;
}

const ACTION_CLASSES: readonly string[] = ['reconnect-soon', 'backoff', 'stop'];

/**
 * Whether a peer can legitimately make a client report this entry's codes: the registered ones and the
 * library and application ranges. Anything else (0-999, 1016-2999, >= 5000, non-integers) comes from a
 * broken or hostile peer or implementation; retrying might reach a healthy node, so it is treated like 1006.
 */
function isExpected(outline: CodeOutline | undefined): outline is CodeOutline {
  return outline !== undefined && outline.kind !== 'unused' && outline.kind !== 'reserved';
}

function explain(code: number, lang: Lang, explainer: Explainer | undefined): CloseTexts {
  if (explainer) {
    try {
      return explainer(code, lang);
    } catch {
      // A code the registry rejects (or an explainer that failed): explained as what the client does, 1006.
    }
  }
  const outline = outlineOf(code);
  if (outline === undefined) return explain(1006, lang, undefined);
  return { code, lang: 'en', name: outline.name, description: '', fix: '' };
}

/**
 * Read a close: registry name and texts, reconnect class (with application codes resolved),
 * and the reason's `incident=` and `retry=` fields. Never throws, whatever the peer sent.
 * @param code - the close code as reported
 * @param reason - the raw close reason
 * @internal
 */
export function analyzeClose(
  code: number,
  reason: string,
  config: Pick<PolicyConfig, 'lang' | 'explain' | 'applicationCodes' | 'onError'> = {},
): CloseFacts {
  const lang = config.lang ?? 'en';
  const { text, ...hints } = parseReason(typeof reason === 'string' ? reason : '');
  const outline = outlineOf(code);
  const expected = isExpected(outline);
  const registryClass: ReconnectClass = expected ? outline.reconnect : 'backoff';
  let actionClass: ActionClass;
  if (registryClass !== 'application') {
    actionClass = registryClass;
  } else {
    actionClass = 'stop';
    if (config.applicationCodes) {
      try {
        const chosen: unknown = config.applicationCodes(code);
        if (typeof chosen === 'string' && ACTION_CLASSES.includes(chosen)) actionClass = chosen as ActionClass;
        else config.onError?.(new PolicyError(`applicationCodes(${code}): not a class: ${String(chosen)}`));
      } catch (error) {
        config.onError?.(new PolicyError(`applicationCodes(${code}) threw`, { cause: error }));
      }
    }
  }
  return {
    code,
    registryClass,
    actionClass,
    unexpected: !expected,
    explanation: explain(code, lang, config.explain),
    text,
    // `incident` and `retry`, when the reason has them.
    ...hints,
  };
}

/**
 * A one-line diagnosis for people: the code's registry name, the server's text, and the registry's
 * fix (or `note` instead of the fix). For example
 * `Policy Violation (1008): "token expired". Re-authenticate before reconnecting.`
 * @internal
 */
export function diagnose(facts: CloseFacts, note?: string): string {
  const name = facts.explanation.name || 'Close';
  const tail = note ?? facts.explanation.fix;
  // Chinese text reads better with full-width punctuation; every other language gets the ASCII form.
  if (facts.explanation.lang === 'zh') {
    let out = `${name}（${facts.code}）`;
    if (facts.text !== '') out += `：“${facts.text}”`;
    return tail ? `${out}。${tail}` : out;
  }
  let out = `${name} (${facts.code})`;
  if (facts.text !== '') out += `: "${facts.text}"`;
  return tail ? `${out}. ${tail}` : out;
}

function validOverride(value: unknown): value is PolicyDecision {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as { action?: unknown; delayMs?: unknown; diagnosis?: unknown };
  if (d.action === 'reconnect') return typeof d.delayMs === 'number' && Number.isFinite(d.delayMs) && d.delayMs >= 0;
  if (d.action === 'stop') return d.diagnosis === undefined || typeof d.diagnosis === 'string';
  return false;
}

/**
 * Decide what to do after a close.
 *
 * 1. The `policy` option, if it returns a valid decision.
 * 2. `reconnect-soon` (1001, 1012): uniform in the server's `retry=` window clamped into
 *    `hintLimits`, else uniform in `soon`.
 * 3. `backoff` (1006, 1011, 1013, 1014, unexpected codes): full-jitter exponential backoff;
 *    1013 "Try Again Later" honours a `retry=` hint like reconnect-soon does.
 * 4. `stop`: a diagnosis from the registry (name, the server's text, the fix).
 * 5. Application codes (3000-4999): whatever `applicationCodes` says, `stop` by default.
 *
 * @param input.attempt - consecutive failures including this close; 1 after the first
 * @param facts - a precomputed {@link analyzeClose} result, to avoid reading the close twice
 * @internal
 */
export function decide(
  input: { readonly code: number; readonly reason: string; readonly attempt: number },
  config: PolicyConfig,
  facts: CloseFacts = analyzeClose(input.code, input.reason, config),
): Decision {
  if (config.policy) {
    let override: unknown;
    try {
      override = config.policy(input.code, input.reason, input.attempt);
    } catch (error) {
      config.onError?.(new PolicyError(`policy(${input.code}) threw`, { cause: error }));
    }
    if (override !== undefined) {
      if (validOverride(override)) {
        if (override.action === 'reconnect') return { action: 'reconnect', delayMs: override.delayMs, reason: 'policy' };
        return { action: 'stop', diagnosis: override.diagnosis || diagnose(facts, 'Stopped by the policy option.') };
      }
      config.onError?.(
        new PolicyError(`policy(${input.code}): not a decision`),
      );
    }
  }

  const hintLimits = config.hintLimits ?? DEFAULT_HINT_LIMITS;
  const fromHint = (hint: RetryHint): Decision => ({
    action: 'reconnect',
    delayMs: uniformDelay(clampWindow(hint, hintLimits), config.random),
    reason: 'hint',
  });

  switch (facts.actionClass) {
    case 'reconnect-soon':
      if (facts.retry) return fromHint(facts.retry);
      return { action: 'reconnect', delayMs: uniformDelay(config.soon ?? DEFAULT_SOON, config.random), reason: 'soon' };
    case 'backoff':
      // Only 1013 says "come back later, at this time"; a hint on a crash (1011) or a gateway
      // failure must not short-circuit the backoff that protects a struggling server.
      if (facts.code === 1013 && facts.retry) return fromHint(facts.retry);
      return {
        action: 'reconnect',
        delayMs: backoffDelay(input.attempt, config.backoff ?? DEFAULT_BACKOFF, config.random),
        reason: 'backoff',
      };
    case 'stop':
      return { action: 'stop', diagnosis: diagnose(facts) };
  }
}
