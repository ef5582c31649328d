/**
 * Objects with their `undefined` members left out: optional members of payloads, frames and options
 * are absent rather than present and `undefined` (the types say so with `exactOptionalPropertyTypes`,
 * and JSON has no `undefined`), and an option set to `undefined` means its default.
 * @packageDocumentation
 */

/** `T` with the members that may be `undefined` made optional, and never `undefined`. */
export type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** A copy of `value`'s own members, in their order, without those that are `undefined`. */
export function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Defined<T>;
}
