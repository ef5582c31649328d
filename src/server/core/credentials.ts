/**
 * Reading what the `authenticate` hook returned, the same way for an upgrade and for credentials inside
 * the protocol (`hello.auth`, an `auth` refresh): who the caller is, and until when.
 * @packageDocumentation
 */
import type { AuthResult } from './options.js';

/** What an {@link AuthResult} decides. */
export type Admission =
  | { readonly admitted: true; readonly user: string | undefined; readonly expiresAt: number | undefined }
  | { readonly admitted: false; readonly status: 401 | 403 };

/** Read an {@link AuthResult}; anything not understood refuses (401), never admits. */
export function admissionOf(result: AuthResult | unknown): Admission {
  if (result === true) return { admitted: true, user: undefined, expiresAt: undefined };
  if (typeof result === 'string') return { admitted: true, user: result, expiresAt: undefined };
  if (typeof result === 'object' && result !== null && !('reject' in result)) {
    const { user, expiresAt } = result as { user?: unknown; expiresAt?: unknown };
    const userOk = user === undefined || typeof user === 'string';
    const expiryOk = expiresAt === undefined || (typeof expiresAt === 'number' && Number.isFinite(expiresAt));
    if (userOk && expiryOk) return { admitted: true, user: user as string | undefined, expiresAt: expiresAt as number | undefined };
  }
  const status = typeof result === 'object' && result !== null && (result as { reject?: unknown }).reject === 403 ? 403 : 401;
  return { admitted: false, status };
}
