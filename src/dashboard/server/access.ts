/**
 * Who may see the dashboard: the admin token, the session cookie it is exchanged for, and the
 * checks every admin request and every `$lifeline.*` subscription goes through.
 *
 * The cookie holds its expiry and an HMAC of it keyed with the token, not the token: it proves the
 * holder presented the token less than 12 hours ago, stops working when the token changes, and needs
 * no server-side state (so it survives a restart and works across workers). The server checks the
 * expiry itself, so a copied cookie dies with its time even if a browser would keep it. Logging out
 * deletes the browser's cookie; a copy taken before stays valid until it expires (there is no
 * server-side session to revoke: rotate the token to cut every cookie at once). Every comparison is
 * constant-time over SHA-256 digests, so neither the content nor the length of a secret leaks through
 * timing.
 * @packageDocumentation
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ADMIN_HEADER } from '../snapshot.js';
import { bearerToken } from '../../server/node/http.js';

/** Name of the admin session cookie. */
export const ADMIN_COOKIE = 'lifeline_admin';

/** The identity `authenticate` gives a WebSocket that presents the admin cookie (or bearer token). */
export const ADMIN_USER = '$lifeline:admin';

/** How long the admin cookie lasts, seconds. */
export const COOKIE_MAX_AGE_S = 12 * 60 * 60;

/** Shortest admin token accepted (the same floor as the publish key). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * - `open`: `--demo` without a token: everyone sees the dashboard (it is a demo).
 * - `token`: an admin token is configured: the dashboard, its channel and its actions need it.
 * - `off`: neither: the dashboard answers 403 and nobody may read `$lifeline.*`.
 */
export type AccessMode = 'open' | 'token' | 'off';

/** Constant-time equality of two secrets of any lengths. */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Parse a `Cookie` header into name → value (the first occurrence of a name wins). */
export function parseCookies(header: string | readonly string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const text = Array.isArray(header) ? header.join('; ') : typeof header === 'string' ? header : '';
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The dashboard's access rules for one server. */
export class DashboardAccess {
  /** See {@link AccessMode}. */
  readonly mode: AccessMode;
  readonly #token: string | undefined;
  readonly #now: () => number;

  /** @param options.now - clock for the cookie's expiry, ms since the epoch @default Date.now */
  constructor(options: { demo: boolean; adminToken: string | undefined; now?: () => number }) {
    const token = options.adminToken === '' ? undefined : options.adminToken;
    if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
      throw new RangeError(`the admin token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 16)`);
    }
    this.#token = token;
    this.mode = token !== undefined ? 'token' : options.demo ? 'open' : 'off';
    this.#now = options.now ?? Date.now;
  }

  /** The cookie value for a session ending at `expiresS` (seconds since the epoch). */
  #session(expiresS: number): string {
    return `v2.${expiresS}.${createHmac('sha256', this.#token ?? '').update(`lifeline dashboard session v2 ${expiresS}`).digest('base64url')}`;
  }

  /** Whether a cookie value is a session of this token that has not expired. */
  #validSession(cookie: string | undefined): boolean {
    const expiresS = /^v2\.(\d{1,12})\./.exec(cookie ?? '')?.[1];
    const expected = expiresS === undefined ? '' : this.#session(Number(expiresS));
    // The comparison runs whatever the shape, so timing does not say which check failed.
    const same = sameSecret(cookie ?? '', expected);
    return same && cookie !== undefined && expiresS !== undefined && Number(expiresS) * 1000 > this.#now();
  }

  /** Whether `presented` is the admin token. */
  tokenMatches(presented: string): boolean {
    return this.#token !== undefined && sameSecret(presented, this.#token);
  }

  /**
   * Whether request headers carry the admin credential: the session cookie, or `Authorization: Bearer <token>`
   * (for scripts). In `open` mode everyone does; in `off` mode nobody.
   */
  isAdmin(headers: Headers): boolean {
    if (this.mode === 'open') return true;
    if (this.mode === 'off' || this.#token === undefined) return false;
    // Both checks always run: how long this takes does not say which credential was tried.
    const byCookie = this.#validSession(parseCookies(headers.cookie).get(ADMIN_COOKIE));
    const bearer = bearerToken(headers.authorization);
    const byBearer = sameSecret(bearer ?? '', this.#token) && bearer !== undefined;
    return byCookie || byBearer;
  }

  /** The `Set-Cookie` value that logs a browser in; `Secure` when the request came over TLS. */
  loginCookie(req: IncomingMessage): string {
    if (this.#token === undefined) throw new Error('no admin token configured');
    const secure = isTls(req) ? '; Secure' : '';
    const expiresS = Math.floor(this.#now() / 1000) + COOKIE_MAX_AGE_S;
    return `${ADMIN_COOKIE}=${this.#session(expiresS)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}${secure}`;
  }

  /** The `Set-Cookie` value that logs a browser out (deletes its cookie). */
  logoutCookie(req: IncomingMessage): string {
    return `${ADMIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${isTls(req) ? '; Secure' : ''}`;
  }
}

function isTls(req: IncomingMessage): boolean {
  const proto = req.headers['x-forwarded-proto'];
  return (req.socket as { encrypted?: boolean }).encrypted === true || (typeof proto === 'string' && proto.split(',')[0]?.trim() === 'https');
}

/**
 * Whether a request comes from a page of another origin: an `Origin` header (browsers send one with
 * every WebSocket handshake and every cross-origin fetch) that is not this server's own host, or the
 * opaque `null`. Another port of the same host is another origin, even though the browser sends it the
 * SameSite cookie (same *site*).
 */
export function isCrossOrigin(headers: Headers): boolean {
  const origin = headers.origin;
  if (origin === undefined) return false;
  if (origin === 'null' || typeof origin !== 'string') return true;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    return true;
  }
  // Behind a proxy that rewrites Host, the browser's host is in X-Forwarded-Host.
  const forwarded = headers['x-forwarded-host'];
  const own = [headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',').map((h) => h.trim()) : [])];
  return !own.includes(host);
}

/**
 * Why an admin POST is refused, or undefined when it may proceed. Cross-site request forgery is
 * stopped twice: the request must carry the {@link ADMIN_HEADER} header (a cross-site form or a
 * "simple" fetch cannot set it, and the server never answers a CORS preflight), and an `Origin`, when
 * present, must be this server's own. The admin credential is checked as for any admin request.
 */
export function refuseAdminPost(req: IncomingMessage, access: DashboardAccess): { status: number; error: string; message: string } | undefined {
  if (req.method !== 'POST') return { status: 405, error: 'method_not_allowed', message: 'use POST' };
  if (req.headers[ADMIN_HEADER] !== '1') return { status: 403, error: 'csrf', message: `admin actions need the ${ADMIN_HEADER}: 1 header` };
  if (isCrossOrigin(req.headers)) return { status: 403, error: 'csrf', message: 'cross-origin admin requests are refused' };
  if (!access.isAdmin(req.headers)) return { status: 401, error: 'unauthorized', message: 'the admin token is required (open /?token=… first, or send Authorization: Bearer <token>)' };
  return undefined;
}
