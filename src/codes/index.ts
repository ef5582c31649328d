/**
 * lifeline's close-code registry: every code 0-4999 as data (sender, wire, the client's default
 * reaction, source) with texts in English and Simplified Chinese, and the functions that read it.
 * Pure: no I/O and no Node APIs, so it runs unchanged in a browser.
 *
 * @example
 * ```ts
 * import { explainCode, classifyCode, CloseCode } from 'lifeline/codes';
 * classifyCode(CloseCode.SERVICE_RESTART); // 'reconnect-soon'
 * explainCode(1011, 'zh').name;            // '内部错误'
 * ```
 * @packageDocumentation
 */
export * from './types.js';
export {
  CloseCode,
  FIRST_REGISTERED_CODE,
  LAST_REGISTERED_CODE,
  LifelineCloseCode,
  MAX_CLOSE_CODE,
  type CloseCodeKey,
  type LifelineCloseCodeKey,
  type RegisteredCloseCode,
} from './close-code.js';
export { InvalidCloseCodeError, assertCloseCode, isCloseCodeValue } from './errors.js';
export { lifelineCodes, lookupEntry, registeredCodes, registryEntries, type EntryFacts } from './registry.js';
export { classifyCode, isSendableCode } from './policy.js';
export { explainCode } from './explain.js';
export { briefExplanation } from './brief.js';
export { lookupFacts, type CodeFacts } from './facts.js';
export { CODE_NAMES_EN, RANGE_NAMES_EN } from './names-en.js';
export { compareCodes } from './compare.js';
export { codeLabels } from './labels.js';
export type { Labels, RangeKind } from './locale.js';
