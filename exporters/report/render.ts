// The report in four formats. JSON carries the exact figures; Markdown, HTML and CSV print the same
// figures rounded (percentages to PERCENT_DIGITS in md/html, CSV_PERCENT_DIGITS in CSV). Incident and
// maintenance names are user input: escaped for each format (HTML entities, Markdown specials, CSV
// quoting plus a leading apostrophe against spreadsheet formulas).

import type { ComponentUptime, MonthlyReport, SloAttainment } from './compute.js';

/** Output formats. */
export type ReportFormat = 'md' | 'html' | 'json' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'html', 'json', 'csv'];

/** Content types by format. */
export const CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** Decimals of percentages in Markdown and HTML. */
export const PERCENT_DIGITS = 4;
/** Decimals of percentages in CSV (for spreadsheets that recompute). */
export const CSV_PERCENT_DIGITS = 6;

/** Renders the report. */
export function renderReport(report: MonthlyReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(toJson(report), null, 2)}\n`;
    case 'csv':
      return renderCsv(report);
    case 'md':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
  }
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The JSON document: exact ratios and minute counts, times as ISO 8601 UTC. */
export function toJson(r: MonthlyReport): unknown {
  return {
    month: r.month,
    timezone: r.timezone,
    start: iso(r.startMs),
    end: iso(r.endMs),
    until: iso(r.untilMs),
    complete: r.complete,
    generated_at: iso(r.generatedMs),
    resolution: r.resolution,
    partial_outage_weight: r.partialOutageWeight,
    components: r.components.map((c) => ({
      id: c.id,
      name: c.name,
      group: c.group,
      uptime_ratio: c.uptimeRatio,
      uptime_percent: c.uptimeRatio === null ? null : c.uptimeRatio * 100,
      downtime_minutes: c.downtimeMinutes,
      counted_minutes: c.countedMinutes,
      minutes: {
        operational: c.minutes.operational,
        degraded_performance: c.minutes.degradedPerformance,
        partial_outage: c.minutes.partialOutage,
        major_outage: c.minutes.majorOutage,
        under_maintenance: c.minutes.maintenance,
        no_data: c.minutes.noData,
      },
      incidents: c.incidents,
    })),
    slos: r.slos.map((s) => ({
      id: s.id,
      name: s.name,
      component: s.component,
      kind: s.kind,
      objective: s.objective,
      good: s.good,
      total: s.total,
      sli: s.sli,
      met: s.met,
      budget_consumed: s.budgetConsumed,
      budget_remaining: s.budgetConsumed === null ? null : 1 - s.budgetConsumed,
      status_minutes: s.statusMinutes,
    })),
    incidents: r.incidents.map((i) => ({
      id: i.id,
      name: i.name,
      impact: i.impact,
      status: i.status,
      created_at: iso(i.createdMs),
      resolved_at: iso(i.resolvedMs),
      duration_minutes: i.durationMinutes,
      minutes_in_month: i.minutesInMonth,
      components: i.components,
    })),
    maintenances: r.maintenances.map((m) => ({
      id: m.id,
      name: m.name,
      start: iso(m.fromMs),
      end: iso(m.toMs),
      minutes_in_month: m.minutesInMonth,
      components: m.components,
    })),
  };
}

/** A ratio as a percentage with `digits` decimals; `—` (md/html) or empty (csv) for null. */
export function percent(ratio: number | null, digits: number, none = '—'): string {
  return ratio === null ? none : (ratio * 100).toFixed(digits);
}

/** Minutes with at most two decimals (weighted partial outages can be fractional). */
export function minutes(value: number): string {
  return String(Number(value.toFixed(2)));
}

/** Local wall-clock time in the report's zone, `YYYY-MM-DD HH:MM`. */
function localTime(ms: number | null, zone: string): string {
  if (ms === null) return '—';
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

function duration(totalMinutes: number): string {
  const d = Math.floor(totalMinutes / 1440);
  const h = Math.floor((totalMinutes % 1440) / 60);
  const m = totalMinutes % 60;
  return [d > 0 ? `${d}d` : '', h > 0 ? `${h}h` : '', m > 0 || totalMinutes === 0 ? `${m}m` : ''].filter(Boolean).join(' ');
}

const sloLine = (s: SloAttainment) => ({
  objective: `${Number((s.objective * 100).toPrecision(12))}`,
  sli: percent(s.sli, PERCENT_DIGITS),
  budget: percent(s.budgetConsumed, 2),
  met: s.met === null ? 'no data' : s.met ? 'yes' : 'no',
});

// ---- Markdown ----------------------------------------------------------------------------------

/** Escapes text for a Markdown table cell: specials backslashed, HTML brackets as entities, no newlines. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_[\]#|~!(){}+.-]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n|\r/g, ' ');
}

function renderMarkdown(r: MonthlyReport): string {
  const md = escapeMarkdown;
  const lines: string[] = [];
  lines.push(`# Uptime report ${r.month}`, '');
  lines.push(
    `${localTime(r.startMs, r.timezone)} to ${localTime(r.untilMs, r.timezone)} (${md(r.timezone)})${r.complete ? '' : ', month in progress'}. ` +
      `Partial outages count ${minutes(r.partialOutageWeight * 100)}% of their minutes as downtime; maintenance is excluded. ` +
      `Rollups: ${r.resolution === 'minute' ? 'per minute' : 'partly hourly (minutes past retention)'}.`,
    '',
  );
  lines.push('## Components', '');
  lines.push('| component | uptime % | downtime min | counted min | major min | partial min | degraded min | maintenance min | no data min | incidents |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of r.components) {
    lines.push(
      `| ${md(c.name)} | ${percent(c.uptimeRatio, PERCENT_DIGITS)} | ${minutes(c.downtimeMinutes)} | ${c.countedMinutes} | ${c.minutes.majorOutage} | ${c.minutes.partialOutage} | ${c.minutes.degradedPerformance} | ${c.minutes.maintenance} | ${c.minutes.noData} | ${c.incidents.length} |`,
    );
  }
  lines.push('', '## SLOs', '');
  lines.push('| SLO | component | objective % | SLI % | budget consumed % | met | good | total |');
  lines.push('|---|---|---:|---:|---:|---|---:|---:|');
  for (const s of r.slos) {
    const l = sloLine(s);
    lines.push(`| ${md(s.name)} | ${md(s.component)} | ${l.objective} | ${l.sli} | ${l.budget} | ${l.met} | ${s.good} | ${s.total} |`);
  }
  lines.push('', '## Incidents', '');
  if (r.incidents.length === 0) lines.push('None.');
  else {
    lines.push('| incident | impact | started | resolved | duration | components |');
    lines.push('|---|---|---|---|---:|---|');
    for (const i of r.incidents) {
      lines.push(`| ${md(i.name)} | ${md(i.impact)} | ${localTime(i.createdMs, r.timezone)} | ${i.resolvedMs === null ? 'unresolved' : localTime(i.resolvedMs, r.timezone)} | ${duration(i.durationMinutes)} | ${i.components.map(md).join(', ')} |`);
    }
  }
  lines.push('', '## Maintenance', '');
  if (r.maintenances.length === 0) lines.push('None.');
  else {
    lines.push('| maintenance | start | end | minutes in month | components |');
    lines.push('|---|---|---|---:|---|');
    for (const m of r.maintenances) {
      lines.push(`| ${md(m.name)} | ${localTime(m.fromMs, r.timezone)} | ${localTime(m.toMs, r.timezone)} | ${m.minutesInMonth} | ${m.components.map(md).join(', ')} |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

// ---- HTML --------------------------------------------------------------------------------------

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;max-width:72rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;color:#59636e;padding-bottom:.3rem}
.good{color:#1a7f37}.bad{color:#cf222e}p.meta{color:#59636e}`;

function renderHtml(r: MonthlyReport): string {
  const h = escapeHtml;
  const rows = (cells: string[]) => `<tr>${cells.join('')}</tr>`;
  const td = (text: string, numeric = false) => `<td${numeric ? ' class="n"' : ''}>${h(text)}</td>`;
  const th = (text: string, numeric = false) => `<th scope="col"${numeric ? ' class="n"' : ''}>${h(text)}</th>`;
  const componentRow = (c: ComponentUptime) =>
    rows([
      `<th scope="row">${h(c.name)}</th>`,
      td(percent(c.uptimeRatio, PERCENT_DIGITS), true),
      td(minutes(c.downtimeMinutes), true),
      td(String(c.countedMinutes), true),
      td(String(c.minutes.majorOutage), true),
      td(String(c.minutes.partialOutage), true),
      td(String(c.minutes.degradedPerformance), true),
      td(String(c.minutes.maintenance), true),
      td(String(c.minutes.noData), true),
      td(String(c.incidents.length), true),
    ]);
  const out: string[] = [];
  out.push('<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>Uptime report ${h(r.month)}</title>`, `<style>${STYLE}</style>`, '</head>', '<body>', '<main>');
  out.push(`<h1>Uptime report ${h(r.month)}</h1>`);
  out.push(
    `<p class="meta">${h(localTime(r.startMs, r.timezone))} to ${h(localTime(r.untilMs, r.timezone))} (${h(r.timezone)})${r.complete ? '' : ', month in progress'}. ` +
      `Partial outages count ${h(minutes(r.partialOutageWeight * 100))}% of their minutes as downtime; maintenance is excluded.</p>`,
  );
  out.push('<h2>Components</h2>', '<table>', '<thead>');
  out.push(rows([th('component'), th('uptime %', true), th('downtime min', true), th('counted min', true), th('major min', true), th('partial min', true), th('degraded min', true), th('maintenance min', true), th('no data min', true), th('incidents', true)]));
  out.push('</thead>', '<tbody>', ...r.components.map(componentRow), '</tbody>', '</table>');
  out.push('<h2>SLOs</h2>', '<table>', '<thead>');
  out.push(rows([th('SLO'), th('component'), th('objective %', true), th('SLI %', true), th('budget consumed %', true), th('met'), th('good', true), th('total', true)]));
  out.push('</thead>', '<tbody>');
  for (const s of r.slos) {
    const l = sloLine(s);
    out.push(rows([`<th scope="row">${h(s.name)}</th>`, td(s.component), td(l.objective, true), td(l.sli, true), td(l.budget, true), `<td class="${s.met === false ? 'bad' : 'good'}">${h(l.met)}</td>`, td(String(s.good), true), td(String(s.total), true)]));
  }
  out.push('</tbody>', '</table>');
  out.push('<h2>Incidents</h2>');
  if (r.incidents.length === 0) out.push('<p>None.</p>');
  else {
    out.push('<table>', '<thead>', rows([th('incident'), th('impact'), th('started'), th('resolved'), th('duration', true), th('components')]), '</thead>', '<tbody>');
    for (const i of r.incidents) {
      out.push(rows([`<th scope="row">${h(i.name)}</th>`, td(i.impact), td(localTime(i.createdMs, r.timezone)), td(i.resolvedMs === null ? 'unresolved' : localTime(i.resolvedMs, r.timezone)), td(duration(i.durationMinutes), true), td(i.components.join(', '))]));
    }
    out.push('</tbody>', '</table>');
  }
  out.push('<h2>Maintenance</h2>');
  if (r.maintenances.length === 0) out.push('<p>None.</p>');
  else {
    out.push('<table>', '<thead>', rows([th('maintenance'), th('start'), th('end'), th('minutes in month', true), th('components')]), '</thead>', '<tbody>');
    for (const m of r.maintenances) {
      out.push(rows([`<th scope="row">${h(m.name)}</th>`, td(localTime(m.fromMs, r.timezone)), td(localTime(m.toMs, r.timezone)), td(String(m.minutesInMonth), true), td(m.components.join(', '))]));
    }
    out.push('</tbody>', '</table>');
  }
  out.push(`<p class="meta">Generated ${h(new Date(r.generatedMs).toISOString())} by Vigil.</p>`, '</main>', '</body>', '</html>', '');
  return out.join('\n');
}

// ---- CSV ---------------------------------------------------------------------------------------

/** CSV columns: one table, one row per component, SLO, incident and maintenance (`type`). */
export const CSV_COLUMNS = [
  'type',
  'id',
  'name',
  'component',
  'uptime_percent',
  'downtime_minutes',
  'counted_minutes',
  'major_outage_minutes',
  'partial_outage_minutes',
  'degraded_minutes',
  'maintenance_minutes',
  'no_data_minutes',
  'objective_percent',
  'sli_percent',
  'budget_consumed_percent',
  'good',
  'total',
  'start',
  'end',
  'duration_minutes',
] as const;

/** One CSV field (RFC 4180 quoting); text that a spreadsheet would run as a formula gets a leading apostrophe. */
export function csvField(value: string | number | null, text = false): string {
  if (value === null) return '';
  let s = String(value);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function renderCsv(r: MonthlyReport): string {
  const lines: string[] = [CSV_COLUMNS.join(',')];
  const row = (values: Partial<Record<(typeof CSV_COLUMNS)[number], string | number | null>>, textKeys: readonly string[] = ['name', 'id', 'component']) =>
    lines.push(CSV_COLUMNS.map((k) => csvField(values[k] ?? null, textKeys.includes(k))).join(','));
  for (const c of r.components) {
    row({
      type: 'component',
      id: c.id,
      name: c.name,
      component: c.id,
      uptime_percent: percent(c.uptimeRatio, CSV_PERCENT_DIGITS, ''),
      downtime_minutes: minutes(c.downtimeMinutes),
      counted_minutes: c.countedMinutes,
      major_outage_minutes: c.minutes.majorOutage,
      partial_outage_minutes: c.minutes.partialOutage,
      degraded_minutes: c.minutes.degradedPerformance,
      maintenance_minutes: c.minutes.maintenance,
      no_data_minutes: c.minutes.noData,
      start: iso(r.startMs),
      end: iso(r.untilMs),
    });
  }
  for (const s of r.slos) {
    row({
      type: 'slo',
      id: s.id,
      name: s.name,
      component: s.component,
      objective_percent: Number((s.objective * 100).toPrecision(12)),
      sli_percent: percent(s.sli, CSV_PERCENT_DIGITS, ''),
      budget_consumed_percent: percent(s.budgetConsumed, CSV_PERCENT_DIGITS, ''),
      good: s.good,
      total: s.total,
      start: iso(r.startMs),
      end: iso(r.untilMs),
    });
  }
  for (const i of r.incidents) {
    row({ type: 'incident', id: i.id, name: i.name, component: i.components.join(' '), start: iso(i.createdMs), end: iso(i.resolvedMs), duration_minutes: i.durationMinutes });
  }
  for (const m of r.maintenances) {
    row({ type: 'maintenance', id: m.id, name: m.name, component: m.components.join(' '), start: iso(m.fromMs), end: iso(m.toMs), duration_minutes: m.minutesInMonth });
  }
  return `${lines.join('\r\n')}\r\n`;
}
