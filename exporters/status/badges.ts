// SVG badges (shields.io "flat" look, text escaped) and the shields.io endpoint JSON
// (https://shields.io/badges/endpoint-badge: schemaVersion 1, label, message, color).

import { escapeXml as x } from './escape.js';
import { uptimeTone } from './model.js';
import type { ShownStatus, UptimeTone } from './model.js';

const STATUS_MESSAGE: Record<ShownStatus, string> = {
  operational: 'operational',
  degraded_performance: 'degraded',
  partial_outage: 'partial outage',
  major_outage: 'major outage',
  under_maintenance: 'maintenance',
  no_data: 'no data',
};

const STATUS_COLOR: Record<ShownStatus, string> = {
  operational: '#1a7f37',
  degraded_performance: '#9a6700',
  partial_outage: '#e36209',
  major_outage: '#cf222e',
  under_maintenance: '#0969da',
  no_data: '#6e7781',
};

const TONE_COLOR: Record<UptimeTone, string> = { good: '#1a7f37', fair: '#5a8a00', poor: '#e36209', bad: '#cf222e', none: '#6e7781' };

/** A badge's parts. */
export interface Badge {
  label: string;
  message: string;
  color: string;
}

export function statusBadge(label: string, status: ShownStatus): Badge {
  return { label, message: STATUS_MESSAGE[status], color: STATUS_COLOR[status] };
}

export function uptimeBadge(label: string, window: string, uptime: number | null): Badge {
  return { label: `${label} uptime ${window}`, message: uptime === null ? 'no data' : `${(uptime * 100).toFixed(2)}%`, color: TONE_COLOR[uptimeTone(uptime)] };
}

/** Approximate Verdana 11px advance widths: good enough to size the two boxes. */
function textWidth(text: string): number {
  let w = 0;
  for (const c of text) w += /[ilI.,:;!|'1]/.test(c) ? 3.5 : /[mwMW%@]/.test(c) ? 10 : /[A-Z0-9]/.test(c) ? 7.5 : 6.5;
  return Math.ceil(w);
}

/** A flat two-part SVG badge with a text alternative (role="img", aria-label, title). */
export function renderSvg(b: Badge): string {
  const lw = textWidth(b.label) + 10;
  const mw = textWidth(b.message) + 10;
  const total = lw + mw;
  const alt = x(`${b.label}: ${b.message}`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="20" role="img" aria-label="${alt}"><title>${alt}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${total}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${x(b.color)}"/><rect width="${total}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` +
    `<text x="${lw / 2}" y="14">${x(b.label)}</text><text x="${lw + mw / 2}" y="14">${x(b.message)}</text></g></svg>`
  );
}

/** The shields.io endpoint document. */
export function shieldsJson(b: Badge): { schemaVersion: 1; label: string; message: string; color: string } {
  return { schemaVersion: 1, label: b.label, message: b.message, color: b.color.replace(/^#/, '') };
}
