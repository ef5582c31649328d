import { UsageError } from './io.js';

/**
 * Parse a duration: `1500` (milliseconds), `1500ms`, `5s`, `2m`.
 * @throws UsageError on anything else
 */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag}: not a duration: "${value}" (examples: 500ms, 5s, 2m)`);
  const n = Number(m[1]);
  const unit = m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1;
  return Math.round(n * unit);
}

/**
 * Parse a TCP port, 0-65535 (0 picks a free one).
 * @throws UsageError on anything else
 */
export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(`--port: not a port: "${value}" (0-65535)`);
  return Number(value);
}
