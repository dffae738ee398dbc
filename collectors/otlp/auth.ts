// Bearer-token authentication of OTLP requests (otlp.auth.tokens). Tokens are compared as
// SHA-256 digests with timingSafeEqual against every configured token, with no early exit, so
// neither the length nor the position of a match shows in the time taken.

import { createHash, timingSafeEqual } from 'node:crypto';

/** One accepted token, and the `tenant` label its requests get ('' = none). */
export interface AuthToken {
  token: string;
  tenant: string;
}

/** The outcome of a check: the tenant of an accepted request, or why it was refused. */
export type AuthResult = { ok: true; tenant: string } | { ok: false; reason: 'missing' | 'invalid' };

const OPEN: AuthResult = { ok: true, tenant: '' };

/** Checks `Authorization: Bearer <token>` values against the configured tokens. */
export class TokenAuth {
  readonly #digests: Buffer[];
  readonly #tenants: string[];

  constructor(tokens: readonly AuthToken[]) {
    this.#digests = tokens.map((t) => createHash('sha256').update(t.token).digest());
    this.#tenants = tokens.map((t) => t.tenant);
  }

  /** False when no token is configured: every request is accepted, without a tenant. */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** Checks one Authorization header value ('' when absent). */
  check(authorization: string): AuthResult {
    if (!this.enabled) return OPEN;
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match === null) return { ok: false, reason: 'missing' };
    const given = createHash('sha256').update(match[1]!).digest();
    let found = -1;
    for (let i = 0; i < this.#digests.length; i++) {
      if (timingSafeEqual(this.#digests[i]!, given) && found < 0) found = i;
    }
    return found < 0 ? { ok: false, reason: 'invalid' } : { ok: true, tenant: this.#tenants[found]! };
  }
}

/** The refusal message of an unauthenticated request. */
export function authRefusal(result: { reason: 'missing' | 'invalid' }): string {
  return result.reason === 'missing'
    ? 'authentication required: send "authorization: Bearer <token>" with a token from otlp.auth.tokens'
    : 'the bearer token is not one of otlp.auth.tokens';
}
