// The Prometheus exporter: the scrape endpoint, and the OTLP → Prometheus naming rules the
// decode workers apply when they first describe a series.

import {
  createPrometheusExporter,
  type ExpositionFormat,
  type PrometheusExporter,
  type PrometheusExporterOptions,
  type ScrapeOutcome,
} from './http.js';
import { familyName, labelSet } from './naming.js';

export {
  createPrometheusExporter,
  familyName,
  labelSet,
  type ExpositionFormat,
  type PrometheusExporter,
  type PrometheusExporterOptions,
  type ScrapeOutcome,
};
