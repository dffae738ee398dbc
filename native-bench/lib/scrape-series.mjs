// The scrape workload: a fixed set of series (counters, gauges and classic histograms) described
// once, from which both the OTLP requests sent to Vigil and the prom-client registry of the
// reference are built, so the two expositions hold the same names, labels and values.
//
// Series are (service, metric, attribute combination); each service is one OTLP resource
// (service.name → job, service.instance.id → instance) with one unnamed scope (so no otel_scope_*
// labels).
// Number metrics cover `services` services; the histogram metric covers the first
// `histograms / 400` of them.

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const ROUTES = [
  '/', '/health', '/login', '/logout', '/cart', '/cart/items', '/cart/items/{id}', '/checkout', '/orders',
  '/orders/{id}', '/products', '/products/{id}', '/products/{id}/reviews', '/search', '/users/{id}',
  '/users/{id}/addresses', '/payments', '/payments/{id}', '/shipments/{id}', '/recommendations',
];
const STATUSES = [200, 201, 400, 404, 500];
/** Attribute combinations per metric and service. */
export const COMBOS = METHODS.length * ROUTES.length * STATUSES.length; // 400
/** Classic histogram bounds (ms), as Vigil and prom-client are both given them. */
export const HISTOGRAM_BOUNDS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000];
const AGG_CUMULATIVE = 2;

/**
 * Number metrics: `prom` is the family name Vigil derives from name + unit (the OTel → Prometheus
 * rules in exporters/prometheus/naming.ts), without a counter's `_total`.
 */
const NUMBER_METRICS = [
  { name: 'http.server.requests', unit: '{request}', prom: 'http_server_requests', kind: 'counter', int: true, help: 'HTTP requests served.' },
  { name: 'rpc.client.calls', unit: '{call}', prom: 'rpc_client_calls', kind: 'counter', int: true, help: 'Outgoing RPCs.' },
  { name: 'http.server.request.body.size', unit: 'By', prom: 'http_server_request_body_size_bytes', kind: 'counter', int: false, help: 'Request body bytes received.' },
  { name: 'http.server.queue.utilization', unit: '1', prom: 'http_server_queue_utilization_ratio', kind: 'gauge', int: false, help: 'Fraction of the request queue in use.' },
  { name: 'http.server.active_requests', unit: '{request}', prom: 'http_server_active_requests', kind: 'gauge', int: true, help: 'Requests being served.' },
];
const HISTOGRAM_METRIC = { name: 'http.server.duration', unit: 'ms', prom: 'http_server_duration_milliseconds', kind: 'histogram', help: 'Time to serve a request.' };

/** The shape of a workload of about `series` series, `histograms` of them histograms. */
export function scrapeWorkload({ series = 100_000, histograms = 2000 } = {}) {
  const numberSeries = series - histograms;
  const perService = NUMBER_METRICS.length * COMBOS; // 2000
  if (numberSeries <= 0 || numberSeries % perService !== 0) throw new Error(`series - histograms must be a positive multiple of ${perService} (got ${numberSeries})`);
  if (histograms % COMBOS !== 0) throw new Error(`histograms must be a multiple of ${COMBOS} (got ${histograms})`);
  const services = numberSeries / perService;
  const histogramServices = histograms / COMBOS;
  if (histogramServices > services) throw new Error('more histogram services than services');
  return { series, histograms, services, histogramServices, numberMetrics: NUMBER_METRICS, histogramMetric: HISTOGRAM_METRIC };
}

/** Names every sample line of the workload may carry (for filtering an exposition). */
export function workloadSampleNames() {
  const names = new Set();
  for (const m of NUMBER_METRICS) names.add(m.kind === 'counter' ? `${m.prom}_total` : m.prom);
  for (const suffix of ['_bucket', '_sum', '_count']) names.add(HISTOGRAM_METRIC.prom + suffix);
  return names;
}

function serviceName(s) {
  return `svc-${String(s).padStart(3, '0')}`;
}
function instanceId(s) {
  return `${serviceName(s)}-${((s + 1) * 2654435761 >>> 0).toString(16)}`;
}
function combo(c) {
  return {
    method: METHODS[Math.floor(c / (STATUSES.length * ROUTES.length))],
    route: ROUTES[Math.floor(c / STATUSES.length) % ROUTES.length],
    status: STATUSES[c % STATUSES.length],
  };
}

/** Value of number metric `m` for (service, combo); `round` shifts it so later sends change it. */
function numberValue(m, s, c, round) {
  const seed = s * 401 + c * 7 + m * 13 + round;
  const def = NUMBER_METRICS[m];
  if (def.kind === 'counter') return def.int ? 1000 + seed * 3 : 4096.5 * (seed + 1);
  return def.int ? seed % 64 : (seed % 100) / 100;
}

/** Bucket counts (bounds.length + 1) of the histogram for (service, combo). */
function bucketCounts(s, c, round) {
  const seed = s * 401 + c * 7 + round;
  return Array.from({ length: HISTOGRAM_BOUNDS.length + 1 }, (_, b) => (seed + b * 3) % 17);
}

/** One value per bucket (its upper bound; 2000 for +Inf), so prom-client can observe the same counts. */
function bucketValue(b) {
  return b < HISTOGRAM_BOUNDS.length ? HISTOGRAM_BOUNDS[b] : 2000;
}

function histogramPoint(s, c, round) {
  const counts = bucketCounts(s, c, round);
  let count = 0;
  let sum = 0;
  counts.forEach((n, b) => {
    count += n;
    sum += n * bucketValue(b);
  });
  return { counts, count, sum };
}

const str = (key, value) => ({ key, value: { stringValue: value } });
const int = (key, value) => ({ key, value: { intValue: String(value) } });

/**
 * The OTLP requests (protobufjs-shaped objects) carrying the whole workload once: one request
 * per service, its number metrics and (for the first services) its histograms.
 */
export function* workloadRequests(workload, { round = 0, baseTimeNs = BigInt(Date.now()) * 1_000_000n } = {}) {
  const time = String(baseTimeNs);
  const start = String(baseTimeNs - 3_600_000_000_000n);
  for (let s = 0; s < workload.services; s++) {
    const attrs = Array.from({ length: COMBOS }, (_, c) => {
      const { method, route, status } = combo(c);
      return [str('http.method', method), str('http.route', route), int('http.status_code', status)];
    });
    const metrics = NUMBER_METRICS.map((def, m) => {
      const dataPoints = attrs.map((attributes, c) => {
        const v = numberValue(m, s, c, round);
        const point = { attributes, timeUnixNano: time };
        if (def.kind === 'counter') point.startTimeUnixNano = start;
        if (def.int) point.asInt = String(v);
        else point.asDouble = v;
        return point;
      });
      const metric = { name: def.name, description: def.help, unit: def.unit };
      if (def.kind === 'gauge') metric.gauge = { dataPoints };
      else metric.sum = { dataPoints, aggregationTemporality: AGG_CUMULATIVE, isMonotonic: true };
      return metric;
    });
    if (s < workload.histogramServices) {
      const dataPoints = attrs.map((attributes, c) => {
        const { counts, count, sum } = histogramPoint(s, c, round);
        return { attributes, startTimeUnixNano: start, timeUnixNano: time, count: String(count), sum, bucketCounts: counts.map(String), explicitBounds: HISTOGRAM_BOUNDS };
      });
      metrics.push({ name: HISTOGRAM_METRIC.name, description: HISTOGRAM_METRIC.help, unit: HISTOGRAM_METRIC.unit, histogram: { dataPoints, aggregationTemporality: AGG_CUMULATIVE } });
    }
    yield {
      resourceMetrics: [{
        resource: { attributes: [str('service.name', serviceName(s)), str('service.instance.id', instanceId(s))] },
        scopeMetrics: [{ scope: {}, metrics }],
      }],
    };
  }
}

/** The label names Vigil gives every workload series, sorted as Vigil prints them. */
export const LABEL_NAMES = ['http_method', 'http_route', 'http_status_code', 'instance', 'job'];

function labelsOf(s, c) {
  const { method, route, status } = combo(c);
  return {
    http_method: method,
    http_route: route,
    http_status_code: String(status),
    instance: instanceId(s),
    job: serviceName(s),
  };
}

/**
 * Fills a prom-client `Registry` with the workload at `round`: the same family names, HELP,
 * labels and values Vigil exposes for it (histograms observe one value per bucket count).
 */
export function fillPromClientRegistry(client, registry, workload, { round = 0 } = {}) {
  for (let m = 0; m < NUMBER_METRICS.length; m++) {
    const def = NUMBER_METRICS[m];
    const Kind = def.kind === 'counter' ? client.Counter : client.Gauge;
    const metric = new Kind({ name: def.kind === 'counter' ? `${def.prom}_total` : def.prom, help: def.help, labelNames: LABEL_NAMES, registers: [registry] });
    for (let s = 0; s < workload.services; s++) {
      for (let c = 0; c < COMBOS; c++) {
        const v = numberValue(m, s, c, round);
        if (def.kind === 'counter') metric.inc(labelsOf(s, c), v);
        else metric.set(labelsOf(s, c), v);
      }
    }
  }
  const h = HISTOGRAM_METRIC;
  const histogram = new client.Histogram({ name: h.prom, help: h.help, labelNames: LABEL_NAMES, buckets: HISTOGRAM_BOUNDS, registers: [registry] });
  for (let s = 0; s < workload.histogramServices; s++) {
    for (let c = 0; c < COMBOS; c++) {
      const labels = labelsOf(s, c);
      const { counts } = histogramPoint(s, c, round);
      // Zero observations would leave the series out of prom-client's output; Vigil shows it.
      histogram.zero(labels);
      counts.forEach((n, b) => {
        for (let i = 0; i < n; i++) histogram.observe(labels, bucketValue(b));
      });
    }
  }
}
