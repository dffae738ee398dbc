// The SLO arithmetic, as pure functions (docs/slo.md has the derivations and worked examples).
// Every function answers null for "no data" instead of NaN or ±Infinity.

/** Status of an SLO or a component (Statuspage vocabulary, plus no_data). */
export type SloStatus = 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage' | 'no_data';

/** Worst first; a component shows the worst status among its SLOs. */
export const STATUS_SEVERITY: Readonly<Record<SloStatus, number>> = {
  no_data: 0,
  operational: 1,
  degraded_performance: 2,
  partial_outage: 3,
  major_outage: 4,
};

/** A reporting window: label and length in minutes. */
export interface WindowSpec {
  label: string;
  minutes: number;
}

/** The fixed windows every SLO reports (the SLO's own window is added after them). */
export const REPORT_WINDOWS: readonly WindowSpec[] = [
  { label: '5m', minutes: 5 },
  { label: '30m', minutes: 30 },
  { label: '1h', minutes: 60 },
  { label: '2h', minutes: 120 },
  { label: '6h', minutes: 360 },
  { label: '1d', minutes: 1440 },
  { label: '3d', minutes: 4320 },
];

/** The SLO window the SRE Workbook's thresholds are stated for: 30 days. */
export const BASE_WINDOW_MINUTES = 30 * 1440;

/** One multi-window burn-rate rule, stated for the 30-day base window. */
export interface AlertRule {
  severity: 'page' | 'ticket';
  /** Long and short window labels (REPORT_WINDOWS). */
  long: string;
  short: string;
  /** Burn-rate threshold for a 30-day SLO window. */
  baseThreshold: number;
}

/**
 * SRE Workbook, "Alerting on SLOs", table 5-8 (30-day window): page at 14.4× over 1h and 5m
 * (2% of the budget in an hour), page at 6× over 6h and 30m (5% in six hours), ticket at 1× over
 * 3d and 6h (10% in three days).
 */
export const ALERT_RULES: readonly AlertRule[] = [
  { severity: 'page', long: '1h', short: '5m', baseThreshold: 14.4 },
  { severity: 'page', long: '6h', short: '30m', baseThreshold: 6 },
  { severity: 'ticket', long: '3d', short: '6h', baseThreshold: 1 },
];

/**
 * The threshold for an SLO window of `windowMinutes`: the same fraction of the budget consumed in
 * the same long window. Budget fraction = burn × long / window, so burn' = burn × window / 30d.
 */
export function scaledThreshold(baseThreshold: number, windowMinutes: number): number {
  return Number(((baseThreshold * windowMinutes) / BASE_WINDOW_MINUTES).toPrecision(12));
}

/** The allowed bad fraction, 1 − objective, without the binary noise of 1 − 0.999. */
export function errorBudget(objective: number): number {
  return Number((1 - objective).toPrecision(12));
}

/** good/total, or null without events. */
export function sli(good: number, total: number): number | null {
  return total > 0 ? Math.min(1, Math.max(0, good / total)) : null;
}

/** (bad/total)/(1 − objective), or null without events. */
export function burnRate(good: number, total: number, objective: number): number | null {
  if (!(total > 0)) return null;
  const bad = Math.max(0, total - good);
  return bad / total / errorBudget(objective);
}

/** 1 − (bad/total)/(1 − objective), event-weighted over the window; negative when overspent; null without events. */
export function budgetRemaining(good: number, total: number, objective: number): number | null {
  const burn = burnRate(good, total, objective);
  return burn === null ? null : 1 - burn;
}

/** Which rules fire, given burn rates by window label (absent or null = no data = does not fire). */
export function firingRules(burn: ReadonlyMap<string, number | null>, windowMinutes: number): AlertRule[] {
  return ALERT_RULES.filter((rule) => {
    const threshold = scaledThreshold(rule.baseThreshold, windowMinutes);
    const long = burn.get(rule.long);
    const short = burn.get(rule.short);
    return long != null && short != null && long >= threshold && short >= threshold;
  });
}

/**
 * An SLO's status from its alerts (docs/slo.md, "Status"):
 * - no events in the SLO window: no_data;
 * - availability, a page firing and more than half of the last 5 minutes' events bad: major_outage;
 * - availability, a page firing: partial_outage;
 * - latency, a page firing, or any SLO with only a ticket: degraded_performance;
 * - otherwise operational.
 */
export function sloStatus(input: { hasData: boolean; kind: 'availability' | 'latency'; page: boolean; ticket: boolean; sli5m: number | null }): SloStatus {
  if (!input.hasData) return 'no_data';
  if (input.page && input.kind === 'availability') return input.sli5m !== null && input.sli5m < 0.5 ? 'major_outage' : 'partial_outage';
  if (input.page || input.ticket) return 'degraded_performance';
  return 'operational';
}

/** A component's status: the worst among its SLOs; no_data only when every SLO has none. */
export function componentStatus(statuses: readonly SloStatus[]): SloStatus {
  let worst: SloStatus = 'no_data';
  for (const s of statuses) if (STATUS_SEVERITY[s] > STATUS_SEVERITY[worst]) worst = s;
  return worst;
}
