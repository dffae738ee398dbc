// Status-change webhooks (README.md): every change of the status store (incidents, maintenances,
// overrides, shown component statuses) POSTed as signed JSON to each configured URL, with retries.

import type { StatusChange } from '../status/store.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookDispatcher, signDelivery } from './dispatcher.js';
import type { AttemptResult, DeliveryOutcome, WebhookConfig, WebhookDispatcherOptions, WebhookEvent } from './dispatcher.js';

/** Settings of one webhook (`status.webhooks[]`), as validated. */
export type Config = WebhookConfig;

/** Defaults of the optional per-hook settings. */
export const DEFAULTS = { maxAttempts: 8, timeoutMs: 10_000, maxQueue: 1000 } as const;

/** Builds the dispatcher; it has nothing to start (deliveries begin on the first enqueue). */
function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  return new WebhookDispatcher(options);
}

/** The webhook event of a status change: `type` is the change's kind, `data` its subject. */
function toWebhookEvent(change: StatusChange): WebhookEvent {
  switch (change.kind) {
    case 'incident.created':
    case 'incident.updated':
      return { type: change.kind, occurredMs: change.atMs, data: { incident: change.incident } };
    case 'maintenance.created':
    case 'maintenance.updated':
      return { type: change.kind, occurredMs: change.atMs, data: { maintenance: change.maintenance } };
    case 'component.override_set':
      return { type: change.kind, occurredMs: change.atMs, data: { override: change.override } };
    case 'component.override_cleared':
      return { type: change.kind, occurredMs: change.atMs, data: { component: change.component } };
    case 'component.status_changed':
      return { type: change.kind, occurredMs: change.atMs, data: { component: change.component, old_status: change.oldStatus, new_status: change.newStatus } };
  }
}

export { createWebhookDispatcher, signDelivery, toWebhookEvent, WebhookDispatcher, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER };
export type { AttemptResult, DeliveryOutcome, WebhookDispatcherOptions, WebhookEvent };
