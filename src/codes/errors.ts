/**
 * The one error the registry throws, and the check that throws it.
 * @packageDocumentation
 */
import { LifelineError } from '../errors.js';
import { MAX_CLOSE_CODE } from './close-code.js';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/**
 * Thrown for a value that is not a close code: not a number, not an integer, negative, or above 4999.
 * Branch on `error.code === 'LIFELINE_ERR_INVALID_CLOSE_CODE'`, never on the message.
 */
export class InvalidCloseCodeError extends LifelineError<'LIFELINE_ERR_INVALID_CLOSE_CODE'> {
  override name = 'InvalidCloseCodeError';
  /** The value that was rejected, as it was passed in. */
  readonly value: unknown;

  /**
   * @param value - the rejected value
   * @param options - standard `ErrorOptions`
   */
  constructor(value: unknown, options?: ErrorOptions) {
    super('LIFELINE_ERR_INVALID_CLOSE_CODE', `not a close code: ${show(value)} (expected an integer 0-${MAX_CLOSE_CODE})`, options);
    this.value = value;
  }
}

/**
 * Whether `value` is an integer in 0..4999, the space the registry covers.
 * Says nothing about whether the code may be sent (see `isSendableCode`).
 */
export function isCloseCodeValue(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_CLOSE_CODE;
}

/**
 * Return `value` as a close code, or throw.
 * @throws InvalidCloseCodeError when `value` is not an integer in 0..4999
 */
export function assertCloseCode(value: unknown): number {
  if (!isCloseCodeValue(value)) throw new InvalidCloseCodeError(value);
  return value;
}
