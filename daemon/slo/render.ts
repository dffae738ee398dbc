// The vigil_slo_* families (labels slo, component) and the storage flush counters, as read-model
// families (what /metrics and remote_write read). Families are
// always announced (like prom-client's); a window without events has no sample.

import { StaticFamily } from '../model/read-model.js';
import type { FamilyView } from '../model/read-model.js';
import type { SloReport } from './engine.js';

/** HELP texts; docs/metrics.md has the same rows. */
const FAMILIES = {
  objective: ['vigil_slo_objective_ratio', 'The SLO objective as a ratio (99.9% is 0.999).'],
  sli: ['vigil_slo_sli_ratio', 'Good events over total events in the window; absent when the window has no events.'],
  budget: ['vigil_slo_error_budget_remaining_ratio', 'Error budget left over the SLO window: 1 - (bad/total)/(1 - objective); negative when overspent.'],
  burn: ['vigil_slo_burn_rate', 'Bad-event share over the window divided by (1 - objective); 1 spends the budget exactly over the SLO window.'],
  alert: ['vigil_slo_alert', 'Multi-window multi-burn-rate alert state (1 firing, 0 not), by severity; see docs/slo.md.'],
  events: ['vigil_slo_events', 'Events the SLO counted since start, by outcome (good, bad); summed over replicas they are the fleet\'s exact counts.'],
} as const;

const FLUSH_FAILURES = ['vigil_storage_flush_failures', 'SLO flushes to SQLite that failed (their counts are retried on the next flush).'] as const;
const HELD_MINUTES = ['vigil_storage_flush_held_rows', 'SLO minute rows (one SLO, one minute) older than the in-memory minute ring, kept for the next flush that works (flushes have been failing for hours).'] as const;
const HELD_DROPPED = ['vigil_storage_flush_dropped_rows', 'SLO minute rows lost because flushes failed for so long that more than 1,000,000 rows waited past the minute ring.'] as const;

/** Flush figures exported with the SLO families when there is storage. */
export interface FlushFigures {
  flushFailures: number;
  heldMinutes: number;
  heldDropped: number;
  storage: boolean;
}

/**
 * The SLO families for the read model. `events` holds each SLO's good and bad counts since start;
 * every SLO has both outcomes from the start, at 0, so `increase()` sees its first events.
 */
export function sloFamilies(slos: readonly SloReport[], events: ReadonlyMap<string, { good: number; bad: number }>, extra: FlushFigures): FamilyView[] {
  // The text format's label order (slo, component, …), kept from before the read model.
  const labels = (s: SloReport, ...more: string[]): string[] => ['slo', s.id, 'component', s.component, ...more];
  const objective = new StaticFamily(FAMILIES.objective[0], 'gauge', FAMILIES.objective[1]);
  const sliRatio = new StaticFamily(FAMILIES.sli[0], 'gauge', FAMILIES.sli[1]);
  const budget = new StaticFamily(FAMILIES.budget[0], 'gauge', FAMILIES.budget[1]);
  const burn = new StaticFamily(FAMILIES.burn[0], 'gauge', FAMILIES.burn[1]);
  const alert = new StaticFamily(FAMILIES.alert[0], 'gauge', FAMILIES.alert[1]);
  const counted = new StaticFamily(FAMILIES.events[0], 'counter', FAMILIES.events[1]);
  for (const s of slos) {
    objective.add(labels(s), s.objective);
    for (const w of s.windows) {
      if (w.sli !== null) sliRatio.add(labels(s, 'window', w.window), w.sli);
      if (w.burnRate !== null) burn.add(labels(s, 'window', w.window), w.burnRate);
    }
    if (s.budgetRemaining !== null) budget.add(labels(s), s.budgetRemaining);
    alert.add(labels(s, 'severity', 'page'), s.alerts.page ? 1 : 0);
    alert.add(labels(s, 'severity', 'ticket'), s.alerts.ticket ? 1 : 0);
    const e = events.get(s.id) ?? { good: 0, bad: 0 };
    counted.add(labels(s, 'outcome', 'good'), e.good);
    counted.add(labels(s, 'outcome', 'bad'), e.bad);
  }
  // The SLI and burn-rate series come in window order per SLO, as the text did.
  const out: FamilyView[] = [objective, sliRatio, budget, burn, alert, counted];
  if (extra.storage) {
    const failures = new StaticFamily(FLUSH_FAILURES[0], 'counter', FLUSH_FAILURES[1]);
    failures.add([], extra.flushFailures);
    const held = new StaticFamily(HELD_MINUTES[0], 'gauge', HELD_MINUTES[1]);
    held.add([], extra.heldMinutes);
    const dropped = new StaticFamily(HELD_DROPPED[0], 'counter', HELD_DROPPED[1]);
    dropped.add([], extra.heldDropped);
    out.push(failures, held, dropped);
  }
  return out;
}
