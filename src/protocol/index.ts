/**
 * `lifeline/protocol`: what crosses the wire, shared by client and server. No I/O, no Node APIs.
 * @packageDocumentation
 */
export * from './close-reason.js';
export * from './frames.js';
export { codePointLength, toWellFormed, truncateCodePoints } from './text.js';
