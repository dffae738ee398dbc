// The Prometheus exporter: the scrape endpoint, rendering the read model (daemon/model) as text
// 0.0.4, OpenMetrics 1.0 or protobuf with native histograms.

import type { Gatherer } from '../../daemon/model/read-model.js';
import { familyName, labelSet } from '../../daemon/model/naming.js';
import { createRenderer } from './exposition.js';
import {
  createPrometheusExporter as createEndpoint,
  type ExpositionFormat,
  type PrometheusExporter,
  type PrometheusExporterOptions,
  type ScrapeOutcome,
} from './http.js';
import { encodeFamilies } from './protobuf.js';
import { renderFamilies } from './render.js';

/** The endpoint's settings with the read model to serve instead of a render function. */
export interface PrometheusExporterConfig extends Omit<PrometheusExporterOptions, 'render'> {
  /** What /metrics shows. */
  gatherer: Gatherer;
  /** A render gives the event loop a turn after this long (default 10 ms; docs/performance.md). */
  sliceMs?: number;
}

/** Creates the `/metrics`, `/-/healthy` and `/-/ready` endpoint; nothing listens until `start()`. */
function createPrometheusExporter(options: PrometheusExporterOptions | PrometheusExporterConfig): PrometheusExporter {
  if ('render' in options) return createEndpoint(options);
  const { gatherer, sliceMs, ...rest } = options;
  return createEndpoint({ ...rest, render: createRenderer(gatherer, sliceMs ?? 10) });
}

export {
  createPrometheusExporter,
  encodeFamilies,
  familyName,
  labelSet,
  renderFamilies,
  type ExpositionFormat,
  type PrometheusExporter,
  type PrometheusExporterOptions,
  type ScrapeOutcome,
};
