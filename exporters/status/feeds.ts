// Atom 1.0 (RFC 4287) and RSS 2.0 feeds of incidents and maintenances, newest change first.
// All text is XML-escaped; bodies are plain text, never markup.

import { escapeXml as x } from './escape.js';
import type { StatusModel } from './model.js';
import type { EventUpdate } from './store.js';

/** Entries in a feed. */
const FEED_ENTRIES = 50;

interface Entry {
  id: string;
  kind: 'incident' | 'maintenance';
  title: string;
  updatedMs: number;
  publishedMs: number;
  text: string;
}

function entries(model: StatusModel): Entry[] {
  const describe = (updates: readonly EventUpdate[]): string =>
    updates.map((u) => `${new Date(u.createdMs).toISOString()} ${u.status}${u.body === '' ? '' : `: ${u.body}`}`).join('\n');
  const out: Entry[] = [
    ...model.incidents.map((i) => ({
      id: i.id,
      kind: 'incident' as const,
      title: `${i.name} (${i.status}, impact ${i.impact})`,
      updatedMs: i.updatedMs,
      publishedMs: i.createdMs,
      text: describe(i.updates),
    })),
    ...model.maintenances.map(({ maintenance: m, status }) => ({
      id: m.id,
      kind: 'maintenance' as const,
      title: `Maintenance: ${m.name} (${status})`,
      updatedMs: m.updatedMs,
      publishedMs: m.createdMs,
      text: `Scheduled ${new Date(m.scheduledForMs).toISOString()} to ${new Date(m.scheduledUntilMs).toISOString()}\n${describe(m.updates)}`,
    })),
  ];
  return out.sort((a, b) => b.updatedMs - a.updatedMs).slice(0, FEED_ENTRIES);
}

/** The Atom feed; `base` is the page URL without a trailing slash. */
export function renderAtom(model: StatusModel, base: string, updatedMs: number): string {
  const items = entries(model)
    .map(
      (e) =>
        `<entry><id>${x(`${base}/#${e.kind}-${e.id}`)}</id><title type="text">${x(e.title)}</title>` +
        `<link rel="alternate" type="text/html" href="${x(`${base}/#${e.kind}-${e.id}`)}"/>` +
        `<published>${new Date(e.publishedMs).toISOString()}</published><updated>${new Date(e.updatedMs).toISOString()}</updated>` +
        `<content type="text">${x(e.text)}</content></entry>`,
    )
    .join('\n');
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">` +
    `<id>${x(`${base}/history.atom`)}</id><title type="text">${x(`${model.title} - incident history`)}</title>` +
    `<updated>${new Date(updatedMs).toISOString()}</updated><author><name>${x(model.title)}</name></author>` +
    `<link rel="self" type="application/atom+xml" href="${x(`${base}/history.atom`)}"/><link rel="alternate" type="text/html" href="${x(`${base}/`)}"/>\n` +
    `${items}\n</feed>\n`
  );
}

/** The RSS 2.0 feed. */
export function renderRss(model: StatusModel, base: string, updatedMs: number): string {
  const items = entries(model)
    .map(
      (e) =>
        `<item><title>${x(e.title)}</title><link>${x(`${base}/#${e.kind}-${e.id}`)}</link>` +
        `<guid isPermaLink="false">${x(`${e.kind}-${e.id}-${e.updatedMs}`)}</guid><pubDate>${new Date(e.updatedMs).toUTCString()}</pubDate>` +
        `<description>${x(e.text)}</description></item>`,
    )
    .join('\n');
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>${x(`${model.title} - incident history`)}</title>` +
    `<link>${x(`${base}/`)}</link><description>${x(`Incidents and maintenance of ${model.title}`)}</description>` +
    `<lastBuildDate>${new Date(updatedMs).toUTCString()}</lastBuildDate>\n${items}\n</channel></rss>\n`
  );
}
