/**
 * The page's calls to the console API: JSON reads, and admin POSTs with the header that proves they
 * come from this page (a cross-site form cannot set it). Failures are {@link ApiError}s with the
 * server's stable `code`.
 * @packageDocumentation
 */
import { ADMIN_HEADER } from '../snapshot.js';
import type { Sentence } from './i18n.js';

/** A console request the server refused or could not answer. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** HTTP status (0 when the request never got an answer). */
    readonly status: number,
    /** The server's `error` code, e.g. `bad_code`, or `network`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function parse<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const b = (body ?? {}) as { error?: unknown; message?: unknown };
    throw new ApiError(res.status, typeof b.error === 'string' ? b.error : 'http', typeof b.message === 'string' ? b.message : `HTTP ${res.status}`);
  }
  return body as T;
}

async function send<T>(input: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(input, { credentials: 'same-origin', ...init });
  } catch (error) {
    throw new ApiError(0, 'network', error instanceof Error ? error.message : String(error));
  }
  return parse<T>(res);
}

/** "Failed: …" with what the server (or the network) said. */
export function failure(error: unknown): Sentence {
  return { key: 'failed', values: { message: error instanceof Error ? error.message : String(error) } };
}

/** `GET path?params` (undefined and '' values are left out). */
export function getJson<T>(path: string, params: Readonly<Record<string, string | number | undefined>> = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') query.set(k, String(v));
  const q = query.toString();
  return send<T>(q === '' ? path : `${path}?${q}`, { method: 'GET' });
}

/** An admin POST with a JSON body. */
export function adminPost<T>(path: string, body: unknown = {}): Promise<T> {
  return send<T>(path, { method: 'POST', headers: { [ADMIN_HEADER]: '1', 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
