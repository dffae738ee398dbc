// Monthly uptime reports (README.md): per component weighted uptime with maintenance excluded, incidents
// with durations, each SLO's attainment and budget consumed; Markdown, HTML, JSON or CSV.

import type { Config as DaemonConfig } from '../../daemon/config/types.js';
import { parseTimeZone } from '../../daemon/config/slo-schema.js';
import type { StatusStore } from '../status/store.js';
import { classifyStored, computeReport, monthBounds, parseMonth } from './compute.js';
import type { ClassifiedSlo, MinuteSeries, MonthlyReport } from './compute.js';
import { ReportRequestError } from './errors.js';
import { CONTENT_TYPES, REPORT_FORMATS, renderReport } from './render.js';
import type { ReportFormat } from './render.js';
import { openReportSource } from './source.js';
import type { ReportSource } from './source.js';

const MINUTE_MS = 60_000;
/** Longest calendar SLO window (a quarter), minutes: how far back "had data in its window" may look. */
const QUARTER_MINUTES = 92 * 1440 + 60;

/** The report's settings (`report:` in the YAML). */
export interface Config {
  /** Share of a partial-outage minute counted as downtime (report.partial_outage_weight), 0..1. */
  partialOutageWeight: number;
}

/** Defaults of Config. */
export const DEFAULT_CONFIG: Config = { partialOutageWeight: 0.3 };

/** What the reporter needs from the daemon's configuration. */
export type ReporterConfig = Pick<DaemonConfig, 'components' | 'slos' | 'slo' | 'storage'> & { report?: Config };

/** A rendered report. */
export interface RenderedReport {
  report: MonthlyReport;
  body: string;
  contentType: string;
}

/** Produces reports from a data directory. */
export interface Reporter {
  /** Computes the report for `month` (`YYYY-MM`) in `timezone` (default slo.timezone). */
  generate(month: string, options?: { timezone?: string }): MonthlyReport;
  /** generate() then render in `format`. */
  render(month: string, format: ReportFormat, options?: { timezone?: string }): RenderedReport;
}

/**
 * Builds a reporter. Each call opens the database read-only, reads, and closes it, so it works
 * beside a running vigild (no lock taken). Inside the daemon, pass its StatusStore as `status`.
 * SLOs are classified from index seeks and the minutes that can be bad (classifyStored);
 * `perMinute` reads and classifies every minute instead (the reference the tests and the bench
 * hold it to; the only way where minutes were pruned and hours are spread).
 */
function createReporter(config: ReporterConfig, options: { status?: StatusStore; now?: () => number; perMinute?: boolean } = {}): Reporter {
  const now = options.now ?? Date.now;
  const weight = config.report?.partialOutageWeight ?? DEFAULT_CONFIG.partialOutageWeight;
  const generate = (month: string, opts: { timezone?: string } = {}): MonthlyReport => {
    const parsed = parseMonth(month);
    if (parsed === undefined) throw new ReportRequestError(`month: must be YYYY-MM, e.g. 2026-10 (got ${JSON.stringify(month)})`);
    const zone = parseTimeZone(opts.timezone ?? config.slo.timezone);
    if (typeof zone !== 'string') throw new ReportRequestError(`timezone: ${zone.invalid}`);
    const nowMs = now();
    const { startMs, endMs } = monthBounds(parsed.year, parsed.month, zone);
    if (startMs > nowMs) throw new ReportRequestError(`month: ${month} has not begun in ${zone}`);
    const from = Math.ceil(startMs / MINUTE_MS);
    const to = Math.ceil(Math.min(endMs, Math.floor(nowMs / MINUTE_MS) * MINUTE_MS) / MINUTE_MS);
    const source: ReportSource = openReportSource(config.storage.dataDir, options.status === undefined ? {} : { status: options.status });
    try {
      const minutes = new Map<string, MinuteSeries>();
      const classified = new Map<string, ClassifiedSlo>();
      const lastEvent = new Map<string, number | null>();
      for (const slo of config.slos) {
        const window = slo.window.kind === 'rolling' ? slo.window.minutes : QUARTER_MINUTES;
        const last = source.lastEventBefore(slo.id, from, from - window);
        lastEvent.set(slo.id, last);
        const stored = options.perMinute === true ? null : (source.stored?.(slo.id, from, to) ?? null);
        if (stored !== null) classified.set(slo.id, classifyStored(slo, stored, last, from, to));
        else minutes.set(slo.id, source.minutes(slo.id, from, to));
      }
      return computeReport({
        year: parsed.year,
        month: parsed.month,
        timezone: zone,
        nowMs,
        partialOutageWeight: weight,
        components: config.components,
        slos: config.slos,
        minutes,
        ...(options.perMinute === true ? {} : { classified }),
        lastEventBeforeMinute: lastEvent,
        incidents: source.incidents(),
        maintenances: source.maintenances(nowMs),
        outages: source.outages(startMs, endMs),
      });
    } finally {
      source.close();
    }
  };
  return {
    generate,
    render(month, format, opts = {}) {
      if (!REPORT_FORMATS.includes(format)) throw new ReportRequestError(`format: must be one of ${REPORT_FORMATS.join(', ')} (got ${JSON.stringify(format)})`);
      const report = generate(month, opts);
      return { report, body: renderReport(report, format), contentType: CONTENT_TYPES[format] };
    },
  };
}

export { createReporter, computeReport, renderReport, REPORT_FORMATS, CONTENT_TYPES };
export { reportRoute } from './routes.js';
export { ReportError, ReportDataError, ReportRequestError } from './errors.js';
export type { ReportFormat, MonthlyReport };
export type { ComponentUptime, IncidentLine, MaintenanceLine, MinuteTally, ReportInput, SloAttainment } from './compute.js';
