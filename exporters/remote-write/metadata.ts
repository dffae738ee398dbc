// Metric metadata for remote_write (Prometheus' `metadata_config`): every family /metrics shows,
// as the `# HELP`/`# TYPE` lines of its text 0.0.4 exposition name it (a counter as `name_total`,
// an info family as a gauge), in WriteRequests holding only `metadata` (field 3). Receivers that
// keep it (Mimir, Cortex, Thanos) serve it on /api/v1/metadata, where Grafana's metric browser reads
// HELP and TYPE. Sent every `metadata.send_interval` in requests of its own, never through the WAL:
// the next interval sends it all again, so a lost request is not lost data.

import { MetricType, ProtoWriter, writeMetadata } from './proto.js';
import type { MetricMetadata } from './proto.js';
import { compressInto, maxCompressedLength } from './snappy.js';
import type { FamilyView } from '../../daemon/model/index.js';

/** One compressed metadata-only WriteRequest and how many entries it holds. */
export interface MetadataBody {
  bytes: Buffer;
  entries: number;
}

const TYPES: Record<FamilyView['type'], number> = {
  counter: MetricType.COUNTER,
  gauge: MetricType.GAUGE,
  histogram: MetricType.HISTOGRAM,
  summary: MetricType.SUMMARY,
  // The text exposition (what a scrape of /metrics gives Prometheus by default) shows info families as gauges.
  info: MetricType.GAUGE,
};

/** Whether /metrics shows the family now: announced, or at least one series with a value. */
function shown(family: FamilyView): boolean {
  if (family.announced === true) return true;
  for (const s of family.series) if (s.hasValue) return true;
  return false;
}

/**
 * The metadata of every family /metrics shows, once per family name, named as the text exposition's
 * `# TYPE` line names it (exporters/prometheus/render.ts): what Prometheus itself would send after
 * scraping it.
 */
export function familyMetadata(families: readonly FamilyView[]): MetricMetadata[] {
  const out: MetricMetadata[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    const familyName = family.type === 'counter' ? `${family.name}_total` : family.name;
    if (seen.has(familyName) || !shown(family)) continue;
    seen.add(familyName);
    // As the OpenMetrics `# UNIT` line: only when the name ends with it.
    const unit = family.unit !== '' && family.name.endsWith(`_${family.unit}`) ? family.unit : '';
    out.push({ type: TYPES[family.type] ?? MetricType.UNKNOWN, familyName, help: family.help, unit });
  }
  return out;
}

/** `entries` as snappy-compressed WriteRequests of at most `perRequest` entries each. */
export function metadataBodies(entries: readonly MetricMetadata[], perRequest: number): MetadataBody[] {
  const out: MetadataBody[] = [];
  const w = new ProtoWriter(16 * 1024);
  for (let i = 0; i < entries.length; i += perRequest) {
    w.reset();
    const part = entries.slice(i, i + perRequest);
    for (const m of part) writeMetadata(w, m);
    const raw = w.view();
    const compressed = Buffer.allocUnsafe(maxCompressedLength(raw.length));
    const end = compressInto(raw, raw.length, compressed, 0);
    out.push({ bytes: compressed.subarray(0, end), entries: part.length });
  }
  return out;
}
