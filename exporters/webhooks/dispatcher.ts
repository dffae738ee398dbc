// Signed webhook deliveries of status changes: one FIFO queue per configured URL (bounded), one
// request in flight per URL so receivers see changes in order, retries with capped exponential
// backoff and full jitter, and counters for every outcome (docs/metrics.md, docs/webhooks.md).

import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { StaticFamily } from '../../daemon/model/read-model.js';
import type { FamilyView } from '../../daemon/model/read-model.js';

/** One configured webhook (`status.webhooks[]`). */
export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key. */
  secret: string;
  /** Attempts per delivery, the first included (default 8). */
  maxAttempts: number;
  /** Per-attempt timeout, ms (default 10 s). */
  timeoutMs: number;
  /** Deliveries waiting for this URL; a change arriving beyond it is dropped and counted (default 1000). */
  maxQueue: number;
}

/** Dispatcher settings. */
export interface WebhookDispatcherOptions {
  hooks: readonly WebhookConfig[];
  /** First retry delay (default 1 s); doubles per attempt up to maxBackoffMs. */
  initialBackoffMs?: number;
  /** Longest retry delay (default 5 min). */
  maxBackoffMs?: number;
  /** [0, 1) source for the jitter; injectable for tests. */
  random?: () => number;
  now?: () => number;
  logger?: Logger;
}

/** A status change as the dispatcher sends it: `type` names it, `data` is its JSON payload. */
export interface WebhookEvent {
  type: string;
  occurredMs: number;
  data: unknown;
}

/** How a delivery ended. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'dropped' | 'abandoned';
/** How one attempt ended. */
export type AttemptResult = 'success' | 'http_4xx' | 'http_5xx' | 'network_error' | 'timeout';

const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = ['delivered', 'failed', 'dropped', 'abandoned'];
const ATTEMPT_RESULTS: readonly AttemptResult[] = ['success', 'http_4xx', 'http_5xx', 'network_error', 'timeout'];

/** Headers of a delivery. */
export const SIGNATURE_HEADER = 'x-vigil-signature';
export const TIMESTAMP_HEADER = 'x-vigil-timestamp';
export const DELIVERY_HEADER = 'x-vigil-delivery';
export const EVENT_HEADER = 'x-vigil-event';

/**
 * The signature of a delivery: `sha256=` + hex HMAC-SHA256 over `<timestamp>.<body>` with the
 * hook's secret. Signing the timestamp with the body lets a receiver refuse replays of old deliveries.
 */
export function signDelivery(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

interface Delivery {
  id: string;
  event: WebhookEvent;
  body: string;
  attempts: number;
  /** The last answer was a 4xx worth retrying (408, 429). */
  retryable: boolean;
}

/** Per-URL state. */
class HookQueue {
  readonly config: WebhookConfig;
  readonly pending: Delivery[] = [];
  busy = false;
  timer: NodeJS.Timeout | null = null;
  controller: AbortController | null = null;

  constructor(config: WebhookConfig) {
    this.config = config;
  }
}

/** The dispatcher. enqueue() from change listeners; shutdown() on the way out. */
export class WebhookDispatcher {
  readonly #hooks: HookQueue[];
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #outcomes = new Map<DeliveryOutcome, number>(DELIVERY_OUTCOMES.map((o) => [o, 0]));
  readonly #attempts = new Map<AttemptResult, number>(ATTEMPT_RESULTS.map((r) => [r, 0]));
  #stopping = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: WebhookDispatcherOptions) {
    this.#hooks = options.hooks.map((h) => new HookQueue(h));
    this.#initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 300_000;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
  }

  /** Queues `event` for every URL (each its own delivery). Never throws; a full queue drops and counts. */
  enqueue(event: WebhookEvent): void {
    if (this.#stopping || this.#hooks.length === 0) return;
    const occurredAt = new Date(event.occurredMs).toISOString();
    for (const hook of this.#hooks) {
      if (hook.pending.length >= hook.config.maxQueue) {
        this.#count('dropped');
        this.#log?.warn({ url: redact(hook.config.url), type: event.type }, 'webhook queue full; change dropped');
        continue;
      }
      const id = randomUUID();
      // The delivery id is in the body too (and the same on every retry), so a receiver can deduplicate.
      const body = JSON.stringify({ id, type: event.type, occurred_at: occurredAt, data: event.data });
      hook.pending.push({ id, event, body, attempts: 0, retryable: false });
      this.#pump(hook);
    }
  }

  /** Deliveries waiting or in flight, all URLs. */
  get queued(): number {
    return this.#hooks.reduce((n, h) => n + h.pending.length, 0);
  }

  /** Deliveries by outcome, and attempts by result, since start. */
  stats(): { deliveries: Record<DeliveryOutcome, number>; attempts: Record<AttemptResult, number> } {
    return { deliveries: Object.fromEntries(this.#outcomes) as Record<DeliveryOutcome, number>, attempts: Object.fromEntries(this.#attempts) as Record<AttemptResult, number> };
  }

  /** Resolves when nothing is queued or in flight (tests). */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The vigil_webhook_* families for the read model (always announced). */
  collect(): FamilyView[] {
    const deliveries = new StaticFamily('vigil_webhook_deliveries', 'counter', 'Status-change webhook deliveries by outcome: delivered, failed (attempts exhausted or refused), dropped (queue full), abandoned (shutdown).');
    for (const [o, n] of this.#outcomes) deliveries.add(['outcome', o], n);
    const attempts = new StaticFamily('vigil_webhook_attempts', 'counter', 'Webhook HTTP attempts by result: success (2xx), http_4xx, http_5xx, network_error, timeout.');
    for (const [r, n] of this.#attempts) attempts.add(['result', r], n);
    const queue = new StaticFamily('vigil_webhook_queue_deliveries', 'gauge', 'Webhook deliveries waiting or in flight.');
    queue.add([], this.queued);
    return [deliveries, attempts, queue];
  }

  /**
   * Stops: no new deliveries, no more retries; an attempt in flight may finish until `deadlineMs`
   * (epoch ms), then it is aborted. Whatever is left is counted `abandoned`. Idempotent.
   */
  async shutdown(deadlineMs = this.#now()): Promise<void> {
    this.#stopping = true;
    for (const hook of this.#hooks) {
      if (hook.timer !== null) {
        clearTimeout(hook.timer);
        hook.timer = null;
        hook.busy = false;
      }
    }
    const wait = Math.max(0, deadlineMs - this.#now());
    if (this.#hooks.some((h) => h.controller !== null) && wait > 0) {
      await Promise.race([new Promise<void>((resolve) => this.#idleWaiters.push(resolve)), new Promise((resolve) => setTimeout(resolve, wait).unref())]);
    }
    for (const hook of this.#hooks) {
      hook.controller?.abort();
      for (let i = 0; i < hook.pending.length; i++) this.#count('abandoned');
      hook.pending.length = 0;
    }
    this.#notifyIdle();
  }

  #count(outcome: DeliveryOutcome): void {
    this.#outcomes.set(outcome, this.#outcomes.get(outcome)! + 1);
  }

  #pump(hook: HookQueue): void {
    if (hook.busy || this.#stopping) return;
    const delivery = hook.pending[0];
    if (delivery === undefined) {
      this.#notifyIdle();
      return;
    }
    hook.busy = true;
    void this.#attempt(hook, delivery);
  }

  async #attempt(hook: HookQueue, delivery: Delivery): Promise<void> {
    delivery.attempts++;
    const result = await this.#post(hook, delivery);
    hook.controller = null;
    this.#attempts.set(result, this.#attempts.get(result)! + 1);
    if (this.#stopping) {
      if (result === 'success') {
        hook.pending.shift();
        this.#count('delivered');
      }
      hook.busy = false;
      this.#notifyIdle();
      return;
    }
    // 4xx other than 408/429 says the receiver will not take it: retrying would not help.
    const permanent = result === 'http_4xx' && !delivery.retryable;
    if (result === 'success' || permanent || delivery.attempts >= hook.config.maxAttempts) {
      hook.pending.shift();
      this.#count(result === 'success' ? 'delivered' : 'failed');
      if (result !== 'success') {
        this.#log?.warn({ url: redact(hook.config.url), type: delivery.event.type, attempts: delivery.attempts, result }, 'webhook delivery failed');
      }
      hook.busy = false;
      this.#pump(hook);
      return;
    }
    // Full jitter over a capped exponential: spreads retries of many receivers after an outage.
    const cap = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** (delivery.attempts - 1));
    const delay = Math.max(1, Math.round(cap * (0.5 + 0.5 * this.#random())));
    hook.timer = setTimeout(() => {
      hook.timer = null;
      void this.#attempt(hook, delivery);
    }, delay);
    hook.timer.unref();
  }

  async #post(hook: HookQueue, delivery: Delivery): Promise<AttemptResult> {
    const timestamp = String(Math.floor(this.#now() / 1000));
    const controller = new AbortController();
    hook.controller = controller;
    const timer = setTimeout(() => controller.abort(new Error('timeout')), hook.config.timeoutMs);
    try {
      const res = await fetch(hook.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'vigil-webhooks/1',
          [SIGNATURE_HEADER]: signDelivery(hook.config.secret, timestamp, delivery.body),
          [TIMESTAMP_HEADER]: timestamp,
          [DELIVERY_HEADER]: delivery.id,
          [EVENT_HEADER]: delivery.event.type,
        },
        body: delivery.body,
        // A redirect is not followed (it would re-send a signed body elsewhere): it counts as a 4xx.
        redirect: 'manual',
        signal: controller.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return 'success';
      if (res.status >= 500) return 'http_5xx';
      delivery.retryable = res.status === 408 || res.status === 429;
      return 'http_4xx';
    } catch {
      return controller.signal.aborted ? 'timeout' : 'network_error';
    } finally {
      clearTimeout(timer);
    }
  }

  #notifyIdle(): void {
    if (this.queued !== 0 && !this.#stopping) return;
    if (this.#hooks.some((h) => h.busy)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** A URL without credentials or query (for logs). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
