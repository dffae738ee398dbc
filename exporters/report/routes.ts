// GET /api/v1/reports/<YYYY-MM>.<md|html|json|csv>[?timezone=Zone] on the status server. Computing
// a month reads SQLite synchronously (~0.1 s for a few SLOs), so reports are cached: a finished
// month for an hour, the month in progress for a minute; ETags let clients revalidate for free.

import type { StatusRequest, StatusResponse, StatusRoute } from '../status/server.js';
import type { Reporter } from './index.js';
import type { MonthlyReport } from './compute.js';
import { ReportDataError, ReportRequestError } from './errors.js';
import { CONTENT_TYPES, renderReport } from './render.js';
import type { ReportFormat } from './render.js';

/** Cache lifetimes, ms. */
const COMPLETE_TTL_MS = 3_600_000;
const IN_PROGRESS_TTL_MS = 60_000;
/** Distinct (month, zone) reports kept. */
const MAX_CACHED = 32;

/** The report route for the status exporter's route table. */
export function reportRoute(reporter: Reporter, now: () => number = Date.now): StatusRoute {
  const cache = new Map<string, { report: MonthlyReport; expiresMs: number; rendered: Map<ReportFormat, string> }>();
  const json = (status: number, error: string): StatusResponse => ({ status, body: `${JSON.stringify({ error })}\n`, contentType: CONTENT_TYPES.json });
  return {
    method: 'GET',
    pattern: '/api/v1/reports/:file',
    handler(req: StatusRequest): StatusResponse {
      const match = /^(\d{4}-\d{2})\.(md|html|json|csv)$/.exec(req.params['file'] ?? '');
      if (match === null) return json(404, 'not found: ask for /api/v1/reports/YYYY-MM.json (or .md, .html, .csv)');
      const [, month, format] = match as unknown as [string, string, ReportFormat];
      const zone = req.query.get('timezone') ?? undefined;
      const key = `${month}|${zone ?? ''}`;
      let entry = cache.get(key);
      if (entry === undefined || entry.expiresMs <= now()) {
        let report: MonthlyReport;
        try {
          report = reporter.generate(month, zone === undefined ? {} : { timezone: zone });
        } catch (err) {
          if (err instanceof ReportRequestError) return json(400, err.message);
          if (err instanceof ReportDataError) return json(503, 'report data unavailable');
          throw err;
        }
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
        entry = { report, expiresMs: now() + (report.complete ? COMPLETE_TTL_MS : IN_PROGRESS_TTL_MS), rendered: new Map() };
        cache.set(key, entry);
      }
      let body = entry.rendered.get(format);
      if (body === undefined) {
        body = renderReport(entry.report, format);
        entry.rendered.set(format, body);
      }
      const maxAge = Math.max(0, Math.floor((entry.expiresMs - now()) / 1000));
      return { status: 200, body, contentType: CONTENT_TYPES[format], etag: true, headers: { 'cache-control': `public, max-age=${maxAge}` } };
    },
  };
}
