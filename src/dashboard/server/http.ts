/**
 * The small HTTP pieces the dashboard's routes share: JSON answers, bounded bodies, and a typed
 * refusal that every handler turns into the same `{error, message}` shape.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the console refuses, with its HTTP status and a stable `code` (also the JSON `error`). */
export class ConsoleRequestError extends Error {
  override readonly name = 'ConsoleRequestError';
  constructor(
    /** HTTP status, 4xx. */
    readonly status: number,
    /** Stable machine-readable code, e.g. `bad_code`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Answer with JSON (never cached, never sniffed). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(JSON.stringify(body));
}

/** Answer with a {@link ConsoleRequestError}'s status and `{error, message}`. */
export function sendRefusal(res: ServerResponse, error: ConsoleRequestError): void {
  sendJson(res, error.status, { error: error.code, message: error.message });
}

/** The request URL, parsed against a dummy origin (only path and query matter). */
export function parseUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://localhost');
}

/** The body as UTF-8 text, or undefined when it is over `maxBytes`. */
export async function readSmallBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The body as a JSON object (an empty body is `{}`).
 * @throws ConsoleRequestError 413 over `maxBytes`, 400 for anything but a JSON object
 */
export async function readJsonObject(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const text = await readSmallBody(req, maxBytes);
  if (text === undefined) throw new ConsoleRequestError(413, 'too_large', `body over ${maxBytes} bytes`);
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConsoleRequestError(400, 'bad_json', 'body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConsoleRequestError(400, 'bad_request', 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/**
 * An integer query parameter within [min, max], or `fallback` when absent.
 * @throws ConsoleRequestError 400 when present but not such an integer
 */
export function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) throw new ConsoleRequestError(400, 'bad_parameter', `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/**
 * A text query parameter of at most `maxChars` characters ('' when absent).
 * @throws ConsoleRequestError 400 when longer
 */
export function textParam(url: URL, name: string, maxChars: number): string {
  const raw = url.searchParams.get(name) ?? '';
  if (raw.length > maxChars) throw new ConsoleRequestError(400, 'bad_parameter', `${name} is longer than ${maxChars} characters`);
  return raw;
}
