// The read model every exporter reads (read-model.ts), and the naming and label text below both the
// store and the exporters (naming.ts, labels.ts).

export {
  SeriesKind,
  StaticFamily,
  StaticSeries,
  createGatherer,
  expClassicBuckets,
  forEachSample,
  bucketLowerBound,
  bucketUpperBound,
  labelsOf,
  openOf,
  type BucketRun,
  type ExemplarView,
  type FamilyType,
  type FamilyView,
  type Gatherer,
  type MetricsSource,
  type NativeHistogramView,
  type SampleVisitor,
  type SeriesView,
} from './read-model.js';
export { MAX_SCHEMA, MIN_SCHEMA, MIN_ZERO_THRESHOLD, downscaleRun, toPrometheusNative, type PrometheusBucketSpan, type PrometheusNativeHistogram } from './native-histogram.js';
export { parseLabelText, renderLabelText } from './labels.js';
export { RESERVED_LABELS, escapeHelp, escapeLabelValue, familyName, formatValue, labelSet, labelText } from './naming.js';
