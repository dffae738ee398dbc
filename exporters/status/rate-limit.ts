// Per-client token buckets for the admin API: one for requests, one for failed authentications
// (so a token cannot be guessed at the request rate). Clients are keyed by remote address; the
// table is bounded, the least recently seen client is forgotten first.

/** Settings of status.admin_rate_limit. */
export interface AdminRateLimitOptions {
  /** Sustained admin requests per second per client. */
  requestsPerSecond: number;
  /** Admin requests a client may make at once before the sustained rate applies. */
  burst: number;
  /** Failed authentications per minute per client, sustained. */
  authFailuresPerMinute: number;
  /** Failed authentications a client may make at once. */
  authFailureBurst: number;
  /** Clients tracked at once; beyond it the least recently seen is forgotten. */
  maxClients: number;
}

/** The defaults of status.admin_rate_limit (docs/configuration.md). */
export const ADMIN_RATE_LIMIT_DEFAULTS: AdminRateLimitOptions = {
  requestsPerSecond: 5,
  burst: 20,
  authFailuresPerMinute: 5,
  authFailureBurst: 10,
  maxClients: 10_000,
};

/** Why a request was refused: which limit (its config key), and when to retry. */
export interface RateLimited {
  reason: 'requests' | 'auth_failures';
  /** The config key of the limit that was hit. */
  limit: string;
  /** Whole seconds until the bucket holds a token again (at least 1). */
  retryAfterSeconds: number;
}

interface Buckets {
  requests: number;
  failures: number;
  /** When both were last refilled. */
  atMs: number;
}

/** Token buckets per client; `now` is injectable for tests. */
export class AdminRateLimiter {
  readonly #options: AdminRateLimitOptions;
  readonly #now: () => number;
  /** Insertion order is recency: a touched client is moved to the end. */
  readonly #clients = new Map<string, Buckets>();

  constructor(options: AdminRateLimitOptions, now: () => number = () => performance.now()) {
    this.#options = options;
    this.#now = now;
  }

  /** Clients tracked now (at most maxClients). */
  get trackedClients(): number {
    return this.#clients.size;
  }

  /**
   * Takes one request token; refuses when the client is out of requests or out of failed
   * authentications (a locked-out client is not even checked, so it cannot keep guessing).
   */
  admit(client: string): RateLimited | null {
    const b = this.#touch(client);
    if (b.failures < 1) return this.#refusal('auth_failures', b.failures, this.#options.authFailuresPerMinute / 60_000);
    if (b.requests < 1) return this.#refusal('requests', b.requests, this.#options.requestsPerSecond / 1000);
    b.requests -= 1;
    return null;
  }

  /** Counts one failed authentication of the client. */
  authFailed(client: string): void {
    const b = this.#touch(client);
    b.failures = Math.max(0, b.failures - 1);
  }

  #refusal(reason: RateLimited['reason'], level: number, perMs: number): RateLimited {
    const limit = reason === 'requests' ? 'status.admin_rate_limit.requests_per_second' : 'status.admin_rate_limit.auth_failures_per_minute';
    return { reason, limit, retryAfterSeconds: Math.max(1, Math.ceil((1 - level) / perMs / 1000)) };
  }

  /** The client's buckets, refilled to now and moved to the most recent end. */
  #touch(client: string): Buckets {
    const o = this.#options;
    const now = this.#now();
    let b = this.#clients.get(client);
    if (b === undefined) {
      if (this.#clients.size >= o.maxClients) this.#clients.delete(this.#clients.keys().next().value!);
      b = { requests: o.burst, failures: o.authFailureBurst, atMs: now };
    } else {
      this.#clients.delete(client);
      const elapsed = Math.max(0, now - b.atMs);
      b.requests = Math.min(o.burst, b.requests + (elapsed * o.requestsPerSecond) / 1000);
      b.failures = Math.min(o.authFailureBurst, b.failures + (elapsed * o.authFailuresPerMinute) / 60_000);
      b.atMs = now;
    }
    this.#clients.set(client, b);
    return b;
  }
}

/**
 * The key a remote address is limited under: an IPv4 address as is (IPv4-mapped IPv6 too), an
 * IPv6 address by its /64 prefix, since one host usually holds a whole /64 and could otherwise
 * rotate addresses to escape its bucket (or to push others out of the table).
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
