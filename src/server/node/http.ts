/**
 * HTTP-level pieces of the server: health routes and refusing an upgrade before the handshake.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Answer an upgrade request with a plain HTTP response and close the socket, so the client sees a
 * status code (e.g. 503 with `Retry-After`) instead of a reset connection.
 */
export function refuseUpgrade(socket: Duplex, status: number, headers: Record<string, string>, body: string): void {
  if (socket.destroyed) return;
  const payload = Buffer.from(body, 'utf8');
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${payload.byteLength}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]));
  // A client that never reads must not keep the socket (and the process) alive.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Write a small JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The path of a request, without the query. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * The credentials of an `Authorization: Bearer <token>` header, or undefined when the header is missing
 * or names another scheme. The scheme is matched in any case (`bearer`, `BEARER`): RFC 7235 §2.1 makes
 * auth schemes case-insensitive, and clients (curl scripts, some SDKs) do send it in lower case.
 */
export function bearerToken(header: string | readonly string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^bearer +(.*)$/is.exec(header);
  return match ? match[1] : undefined;
}

/** A decoder that refuses malformed UTF-8 instead of replacing it with U+FFFD; a BOM is kept, not skipped. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as UTF-8 text, or undefined when they are not well-formed UTF-8 (stored as U+FFFD, such text
 * would silently differ from what the sender meant).
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
