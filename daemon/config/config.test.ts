import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { join, resolve } from 'node:path';
import { VigilError } from '../../collectors/errors.js';
import { ConfigError, defaultConfig, loadConfig, parseDuration, parseSize, validateConfig, type CliOverrides, type Config } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function writeConfig(text: string): string {
  const file = join(dir, `config-${++fileCount}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** The ConfigError's messages for a YAML text (and flags), failing the test if it loads. */
function errorsOf(text: string | undefined, overrides: CliOverrides = {}): string[] {
  const file = text === undefined ? undefined : writeConfig(text);
  try {
    loadConfig(file, overrides);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.errors;
  }
  assert.fail('expected the configuration to be rejected');
}

/** limits.memory_*: auto (docs/configuration.md): hard min(1 GiB, 50% of memory, 75% of the V8 heap limit), soft 3/4 of it. */
function autoMemoryLimits(): Config['limits'] {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const available = constrained !== undefined && constrained > 0 && constrained < totalmem() ? constrained : totalmem();
  const hard = Math.floor(Math.min(1024 ** 3, available * 0.5, getHeapStatistics().heap_size_limit * 0.75));
  return { memorySoftBytes: Math.floor(hard * (3 / 4)), memoryHardBytes: hard, checkIntervalMs: 250 };
}

const DEFAULTS: Config = {
  otlp: {
    grpc: { host: '127.0.0.1', port: 4317, maxMessageBytes: 16 * 1024 ** 2, tls: null, maxConnections: 1024, maxConcurrentStreams: 100, handshakeTimeoutMs: 10_000, maxConnectionIdleMs: 300_000 },
    http: { host: '127.0.0.1', port: 4318, maxMessageBytes: 16 * 1024 ** 2, tls: null },
    maxInflightBytes: 64 * 1024 ** 2,
    receiveTimeoutMs: 30_000,
    auth: { tokens: [] },
  },
  prometheus: { host: '127.0.0.1', port: 9464, maxConcurrentScrapes: 4, scrapeTimeoutMs: 10_000, tls: null, maxConnections: 128, headerTimeoutMs: 10_000 },
  status: { host: '127.0.0.1', port: 8080, tls: null, title: 'Status', refreshIntervalMs: 5000, collapseGroupsOver: 20, adminTokens: [], adminRateLimit: { requestsPerSecond: 5, burst: 20, authFailuresPerMinute: 5, authFailureBurst: 10, maxClients: 10_000 }, webhooks: [], autoIncidents: { enabled: false, publish: false, resolveAfterMs: 600_000 }, pingRateLimit: { requestsPerSecond: 10, burst: 30, unknownKeysPerMinute: 10, unknownKeyBurst: 10, maxClients: 10_000 } },
  storage: { dataDir: resolve('./data'), flushIntervalMs: 1000 },
  workers: { threads: Math.max(1, availableParallelism() - 1), maxQueue: 256 },
  series: { limit: 200_000, stalenessMs: 300_000, exponentialMaxScale: 3 },
  percentiles: { enabled: true, significantDigits: 2, quantiles: [0.5, 0.9, 0.95, 0.99, 0.999], windowsMs: [60_000, 300_000, 3_600_000], windowLabels: ['1m', '5m', '1h'] },
  log: { level: 'info', bufferBytes: 1024 ** 2 },
  limits: autoMemoryLimits(),
  spans: { dimensions: [], histogramBucketsSeconds: [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15], errorOnHttp5xx: false, nativeHistogramSchema: 3, nativeHistogramMaxBuckets: 160 },
  slo: { timezone: 'UTC', source: null },
  alerting: { alertmanagers: [], resendIntervalMs: 60_000, evaluateIntervalMs: 5_000, statusUrl: null },
  report: { partialOutageWeight: 0.3 },
  components: [],
  slos: [],
  remoteWrite: [],
  probes: [],
  heartbeats: [],
};

describe('defaults', () => {
  test('defaultConfig() is the documented defaults', () => {
    assert.deepEqual(defaultConfig(), DEFAULTS);
  });

  test('no file and no flags is the defaults', () => {
    assert.deepEqual(loadConfig(undefined, {}), DEFAULTS);
  });

  for (const [name, text] of [
    ['an empty file', ''],
    ['a file with only comments', '# nothing here\n  # still nothing\n'],
    ['sections with every key commented out', 'otlp:\n  # grpc:\n  #   endpoint: 0.0.0.0:4317\nseries:\n'],
    ['empty mappings', 'otlp: {}\nprometheus: {}\n'],
  ] as const) {
    test(`${name} is the defaults`, () => {
      const file = writeConfig(text);
      assert.deepEqual(loadConfig(file, {}), { ...DEFAULTS, source: resolve(file) });
    });
  }

  test('vigil.example.yaml, uncommented, is exactly the defaults', () => {
    const example = readFileSync(new URL('../../../vigil.example.yaml', import.meta.url), 'utf8');
    const uncommented = example.replace(/^# ( *[a-z_]+:.*)$/gm, '$1');
    assert.notEqual(uncommented, example);
    const file = writeConfig(uncommented);
    assert.deepEqual(loadConfig(file, {}), { ...DEFAULTS, source: resolve(file) });
  });

  test('validateConfig on undefined and {} is the defaults', () => {
    assert.deepEqual(validateConfig(undefined), { config: DEFAULTS });
    assert.deepEqual(validateConfig({}), { config: DEFAULTS });
    assert.deepEqual(validateConfig({}, '/etc/vigil.yaml'), { config: { ...DEFAULTS, source: '/etc/vigil.yaml' } });
  });
});

describe('every key is parsed', () => {
  test('a file setting every key', () => {
    const file = writeConfig(`
otlp:
  grpc:
    endpoint: "[::1]:14317"
    max_message_size: 4MiB
    max_connections: 50
    max_concurrent_streams: 8
    handshake_timeout: 2s
    max_connection_idle: 1m30s
  http:
    endpoint: 0.0.0.0:14318
    max_message_size: 2MiB
  max_inflight_size: 1GB
  receive_timeout: 5s
  auth:
    tokens:
      - token: team-a-token-0123456789
        tenant: team-a
      - token: shared-token-0123456789
prometheus:
  endpoint: 0.0.0.0:19464
  max_concurrent_scrapes: 2
  scrape_timeout: 1m30s
  max_connections: 16
  header_timeout: 3s
status:
  endpoint: localhost:0
  title: Acme Status
  refresh_interval: 2s
  admin_tokens: [abcdefghijklmnop0123]
  admin_rate_limit: { requests_per_second: 0.5, burst: 3, auth_failures_per_minute: 2, auth_failure_burst: 1, max_clients: 50 }
storage:
  data_dir: /var/lib/vigil
  flush_interval: 250ms
workers:
  threads: 3
  max_queue: 0
series:
  limit: 1000
  staleness: 1h
  exponential_max_scale: -10
percentiles:
  enabled: false
  significant_digits: 3
  quantiles: [0.99, 0.5]
  windows: [30s, 90s, 2h]
log:
  level: debug
  buffer_size: 64KiB
limits:
  memory_soft: 512MiB
  memory_hard: 1GiB
  check_interval: 100ms
spans:
  dimensions: [http.route, deployment.environment]
  histogram_buckets: [250us, 1ms, 1.5s, 2]
  error_on_http_5xx: true
  native_histogram_schema: 5
  native_histogram_max_buckets: 0
`);
    const expected: Config = {
      otlp: {
        grpc: { host: '::1', port: 14317, maxMessageBytes: 4 * 1024 ** 2, tls: null, maxConnections: 50, maxConcurrentStreams: 8, handshakeTimeoutMs: 2000, maxConnectionIdleMs: 90_000 },
        http: { host: '0.0.0.0', port: 14318, maxMessageBytes: 2 * 1024 ** 2, tls: null },
        maxInflightBytes: 1e9,
        receiveTimeoutMs: 5000,
        auth: { tokens: [{ token: 'team-a-token-0123456789', tenant: 'team-a' }, { token: 'shared-token-0123456789', tenant: '' }] },
      },
      prometheus: { host: '0.0.0.0', port: 19464, maxConcurrentScrapes: 2, scrapeTimeoutMs: 90_000, tls: null, maxConnections: 16, headerTimeoutMs: 3000 },
      status: { host: 'localhost', port: 0, tls: null, title: 'Acme Status', refreshIntervalMs: 2000, collapseGroupsOver: 20, adminTokens: ['abcdefghijklmnop0123'], adminRateLimit: { requestsPerSecond: 0.5, burst: 3, authFailuresPerMinute: 2, authFailureBurst: 1, maxClients: 50 }, webhooks: [], autoIncidents: { enabled: false, publish: false, resolveAfterMs: 600_000 }, pingRateLimit: { requestsPerSecond: 10, burst: 30, unknownKeysPerMinute: 10, unknownKeyBurst: 10, maxClients: 10_000 } },
      storage: { dataDir: '/var/lib/vigil', flushIntervalMs: 250 },
      workers: { threads: 3, maxQueue: 0 },
      series: { limit: 1000, stalenessMs: 3_600_000, exponentialMaxScale: -10 },
      percentiles: { enabled: false, significantDigits: 3, quantiles: [0.5, 0.99], windowsMs: [30_000, 90_000, 7_200_000], windowLabels: ['30s', '1m30s', '2h'] },
      log: { level: 'debug', bufferBytes: 64 * 1024 },
      limits: { memorySoftBytes: 512 * 1024 ** 2, memoryHardBytes: 1024 ** 3, checkIntervalMs: 100 },
      spans: { dimensions: ['http.route', 'deployment.environment'], histogramBucketsSeconds: [0.00025, 0.001, 1.5, 2], errorOnHttp5xx: true, nativeHistogramSchema: 5, nativeHistogramMaxBuckets: 0 },
      slo: { timezone: 'UTC', source: null },
      alerting: { alertmanagers: [], resendIntervalMs: 60_000, evaluateIntervalMs: 5_000, statusUrl: null },
      report: { partialOutageWeight: 0.3 },
      components: [],
      slos: [],
      remoteWrite: [],
      probes: [],
      heartbeats: [],
      source: resolve(file),
    };
    assert.deepEqual(loadConfig(file, {}), expected);
  });

  test('a relative data_dir is resolved against the working directory', () => {
    const result = validateConfig({ storage: { data_dir: 'var/vigil' } });
    assert.ok('config' in result);
    assert.equal(result.config.storage.dataDir, resolve('var/vigil'));
  });

  test('threads: auto is availableParallelism() - 1, at least 1', () => {
    const result = validateConfig({ workers: { threads: 'auto' } });
    assert.ok('config' in result);
    assert.equal(result.config.workers.threads, Math.max(1, availableParallelism() - 1));
  });

  test('sizes are integer bytes or a number with a unit', () => {
    for (const [input, bytes] of [
      [1048576, 1048576],
      ['1048576', 1048576],
      ['512B', 512],
      ['1KiB', 1024],
      ['16MiB', 16 * 1024 ** 2],
      ['2GiB', 2 * 1024 ** 3],
      ['1KB', 1000],
      ['1.5MB', 1_500_000],
      ['3 GB', 3e9],
      ['0.5KiB', 512],
    ] as const) {
      assert.equal(parseSize(input), bytes, `parseSize(${JSON.stringify(input)})`);
    }
    for (const input of ['', 'MiB', '16mb', '16 M', '-1', '1.5', '1e6', 1.5, -1, '16MiB ram']) {
      assert.equal(parseSize(input), undefined, `parseSize(${JSON.stringify(input)})`);
    }
  });

  test('durations are milliseconds', () => {
    for (const [input, ms] of [
      ['500ms', 500],
      ['10s', 10_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['1d', 86_400_000],
      ['1m30s', 90_000],
      ['1h0m1s500ms', 3_601_500],
      ['1.5s', 1500],
    ] as const) {
      assert.equal(parseDuration(input), ms, `parseDuration(${input})`);
    }
    for (const input of ['', '10', 's', '5 m', '5min', '-1s', '1w', '1m 30s', '1.s']) {
      assert.equal(parseDuration(input), undefined, `parseDuration(${JSON.stringify(input)})`);
    }
  });
});

describe('bad configs: every error names its key path', () => {
  const cases: { name: string; yaml: string; errors: string[] }[] = [
    { name: 'unknown top-level key', yaml: 'otpl: {}\n', errors: ['top level has invalid key: otpl'] },
    { name: 'unknown nested key', yaml: 'prometheus:\n  endpont: 1.2.3.4:9464\n', errors: ["'prometheus' has invalid key: endpont"] },
    {
      name: 'unknown deeply nested keys, one message each',
      yaml: 'otlp:\n  grpc:\n    endpont: x\n    max_msg_size: 1\n',
      errors: ["'otlp.grpc' has invalid key: endpont", "'otlp.grpc' has invalid key: max_msg_size"],
    },
    { name: 'endpoint without a port', yaml: 'otlp:\n  grpc:\n    endpoint: nope\n', errors: ['otlp.grpc.endpoint: must be host:port (got "nope")'] },
    {
      name: 'unbracketed IPv6 endpoint',
      yaml: 'status:\n  endpoint: "::1:8080"\n',
      errors: ['status.endpoint: must be host:port, with [brackets] around an IPv6 address (got "::1:8080")'],
    },
    {
      name: 'endpoint without a host',
      yaml: 'status:\n  endpoint: ":8080"\n',
      errors: ['status.endpoint: must name a host, e.g. 0.0.0.0:port for every interface (got ":8080")'],
    },
    {
      name: 'endpoint with an invalid host',
      yaml: 'status:\n  endpoint: "bad host:8080"\n',
      errors: ['status.endpoint: must be host:port with a valid host (got "bad host:8080")'],
    },
    { name: 'port above 65535', yaml: 'prometheus:\n  endpoint: 127.0.0.1:65536\n', errors: ['prometheus.endpoint: port must be 0..65535 (got "127.0.0.1:65536")'] },
    { name: 'endpoint given as a number', yaml: 'status:\n  endpoint: 8080\n', errors: ['status.endpoint: must be host:port (got 8080)'] },
    {
      name: 'a short admin token',
      yaml: 'status:\n  admin_tokens: [short]\n',
      errors: ['status.admin_tokens: must be a list of tokens, each at least 16 printable characters without spaces (got a list with an invalid token)'],
    },
    {
      name: 'OTLP auth token too short',
      yaml: 'otlp:\n  auth:\n    tokens:\n      - token: short\n',
      errors: ['otlp.auth.tokens: [0].token: must be at least 16 printable characters without spaces (short tokens are guessable)'],
    },
    {
      name: 'OTLP auth token twice',
      yaml: 'otlp:\n  auth:\n    tokens:\n      - token: abcdefghijklmnop0123\n      - token: abcdefghijklmnop0123\n        tenant: b\n',
      errors: ['otlp.auth.tokens: [1].token: appears twice'],
    },
    {
      name: 'OTLP auth entry with an unknown key',
      yaml: 'otlp:\n  auth:\n    tokens:\n      - token: abcdefghijklmnop0123\n        tennant: a\n',
      errors: ['otlp.auth.tokens: [0]: has invalid key: tennant'],
    },
    {
      name: 'OTLP auth tenant empty',
      yaml: 'otlp:\n  auth:\n    tokens:\n      - token: abcdefghijklmnop0123\n        tenant: ""\n',
      errors: ['otlp.auth.tokens: [0].tenant: must be a non-empty string (got "")'],
    },
    {
      name: 'TLS key file missing',
      yaml: 'otlp:\n  grpc:\n    tls:\n      cert_file: /etc/hostname\n      key_file: /nonexistent/vigil.key\n',
      errors: ['otlp.grpc.tls: key_file: cannot read /nonexistent/vigil.key (ENOENT)'],
    },
    {
      name: 'TLS client_ca_file on a uWebSockets.js listener',
      yaml: 'status:\n  tls:\n    cert_file: /etc/hostname\n    key_file: /etc/hostname\n    client_ca_file: /etc/hostname\n',
      errors: ['status.tls: client_ca_file: not supported on this listener (uWebSockets.js verifies client certificates but cannot require them); terminate mutual TLS in a proxy in front of it'],
    },
    {
      name: 'TLS with an unknown key',
      yaml: 'prometheus:\n  tls:\n    cert: /etc/hostname\n',
      errors: ['prometheus.tls: has invalid key: cert'],
    },
    {
      name: 'admin rate limits that are zero or misspelled',
      yaml: 'status:\n  admin_rate_limit:\n    requests_per_second: 0\n    max_clients: -1\n    brust: 5\n',
      errors: [
        'status.admin_rate_limit.requests_per_second: must be a positive number (got 0)',
        'status.admin_rate_limit.max_clients: must be a positive integer (got -1)',
        "'status.admin_rate_limit' has invalid key: brust",
      ],
    },
    {
      name: 'connection limits and timeouts that are zero, negative or misspelled',
      yaml: 'otlp:\n  receive_timeout: 0s\n  grpc:\n    max_connections: 0\n    handshake_timeout: soon\nprometheus:\n  max_connections: -5\n  header_timout: 1s\nlog:\n  buffer_size: 0\n',
      errors: [
        'otlp.grpc.max_connections: must be a positive integer (got 0)',
        'otlp.grpc.handshake_timeout: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got "soon")',
        'otlp.receive_timeout: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got "0s")',
        'prometheus.max_connections: must be a positive integer (got -5)',
        "'prometheus' has invalid key: header_timout",
        'log.buffer_size: must be a positive size: bytes, or a number with KiB, MiB, GiB, KB, MB or GB (got 0)',
      ],
    },
    {
      name: 'a gRPC idle limit that is zero or not a duration',
      yaml: 'otlp:\n  grpc:\n    max_connection_idle: 0s\n',
      errors: ['otlp.grpc.max_connection_idle: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got "0s")'],
    },
    {
      name: 'size with a lower-case unit',
      yaml: 'otlp:\n  max_inflight_size: 64mb\n',
      errors: ['otlp.max_inflight_size: must be a positive size: bytes, or a number with KiB, MiB, GiB, KB, MB or GB (got "64mb")'],
    },
    {
      name: 'size of zero',
      yaml: 'otlp:\n  grpc:\n    max_message_size: 0\n',
      errors: ['otlp.grpc.max_message_size: must be a positive size: bytes, or a number with KiB, MiB, GiB, KB, MB or GB (got 0)'],
    },
    {
      name: 'duration without a unit',
      yaml: 'prometheus:\n  scrape_timeout: 10\n',
      errors: ['prometheus.scrape_timeout: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got 10)'],
    },
    {
      name: 'duration in words',
      yaml: 'series:\n  staleness: 5 minutes\n',
      errors: ['series.staleness: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got "5 minutes")'],
    },
    { name: 'negative series limit', yaml: 'series:\n  limit: -5\n', errors: ['series.limit: must be a positive integer (got -5)'] },
    { name: 'fractional series limit', yaml: 'series:\n  limit: 1.5\n', errors: ['series.limit: must be a positive integer (got 1.5)'] },
    { name: 'threads 0', yaml: 'workers:\n  threads: 0\n', errors: ['workers.threads: must be "auto" or a positive integer (got 0)'] },
    { name: 'threads "many"', yaml: 'workers:\n  threads: many\n', errors: ['workers.threads: must be "auto" or a positive integer (got "many")'] },
    { name: 'negative max_queue', yaml: 'workers:\n  max_queue: -1\n', errors: ['workers.max_queue: must be a non-negative integer (got -1)'] },
    {
      name: 'scale out of range',
      yaml: 'series:\n  exponential_max_scale: 21\n',
      errors: ['series.exponential_max_scale: must be an integer from -10 to 20 (got 21)'],
    },
    {
      name: 'percentile quantile of 1',
      yaml: 'percentiles:\n  quantiles: [0.5, 1]\n',
      errors: ['percentiles.quantiles: must be a non-empty list of numbers between 0 and 1, exclusive, without repeats (got 1)'],
    },
    {
      name: 'percentile quantile given as a string',
      yaml: 'percentiles:\n  quantiles: ["0.9"]\n',
      errors: ['percentiles.quantiles: must be a non-empty list of numbers between 0 and 1, exclusive, without repeats (got "0.9")'],
    },
    {
      name: 'percentile quantiles repeated',
      yaml: 'percentiles:\n  quantiles: [0.9, 0.5, 0.9]\n',
      errors: ['percentiles.quantiles: must be a non-empty list of numbers between 0 and 1, exclusive, without repeats (0.9 appears twice)'],
    },
    {
      name: 'percentile quantiles empty',
      yaml: 'percentiles:\n  quantiles: []\n',
      errors: ['percentiles.quantiles: must be a non-empty list of numbers between 0 and 1, exclusive, without repeats (got a list)'],
    },
    {
      name: 'percentile window below 10s',
      yaml: 'percentiles:\n  windows: [5s, 1m]\n',
      errors: ['percentiles.windows: must be an ascending list of 1 to 5 durations, each at least 10s (got "5s")'],
    },
    {
      name: 'percentile windows not ascending',
      yaml: 'percentiles:\n  windows: [5m, 1m]\n',
      errors: ['percentiles.windows: must be an ascending list of 1 to 5 durations, each at least 10s ("1m" is not longer than the window before it)'],
    },
    {
      name: 'six percentile windows',
      yaml: 'percentiles:\n  windows: [1m, 2m, 3m, 4m, 5m, 6m]\n',
      errors: ['percentiles.windows: must be an ascending list of 1 to 5 durations, each at least 10s (got 6 windows)'],
    },
    {
      name: 'percentile significant digits 6',
      yaml: 'percentiles:\n  significant_digits: 6\n',
      errors: ['percentiles.significant_digits: must be an integer from 1 to 5 (got 6)'],
    },
    {
      name: 'percentiles enabled as a string',
      yaml: 'percentiles:\n  enabled: "yes"\n',
      errors: ['percentiles.enabled: must be true or false (got "yes")'],
    },
    {
      name: 'unknown log level',
      yaml: 'log:\n  level: verbose\n',
      errors: ['log.level: must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")'],
    },
    { name: 'empty data_dir', yaml: 'storage:\n  data_dir: ""\n', errors: ['storage.data_dir: must be a non-empty path (got "")'] },
    { name: 'section that is a string', yaml: 'prometheus: yes\n', errors: ['prometheus: must be a mapping (got "yes")'] },
    { name: 'section that is a list', yaml: 'otlp:\n  - grpc\n', errors: ['otlp: must be a mapping (got a list)'] },
    { name: 'number given as a string', yaml: 'series:\n  limit: "1000"\n', errors: ['series.limit: must be a positive integer (got "1000")'] },
    { name: 'leaf given a mapping', yaml: 'log:\n  level:\n    name: info\n', errors: ['log.level: must be one of trace, debug, info, warn, error, fatal, silent (got a mapping)'] },
    { name: 'leaf left empty', yaml: 'prometheus:\n  max_concurrent_scrapes:\n', errors: ['prometheus.max_concurrent_scrapes: must be a positive integer (got null)'] },
    { name: 'span dimensions not a list', yaml: 'spans:\n  dimensions: http.route\n', errors: ['spans.dimensions: must be a list of attribute keys (got "http.route")'] },
    {
      name: 'span dimension that is a built-in label',
      yaml: 'spans:\n  dimensions: [service.name]\n',
      errors: ['spans.dimensions: "service.name" would be the label service_name, which span metrics already use'],
    },
    {
      name: 'two span dimensions with one label name',
      yaml: 'spans:\n  dimensions: [http.route, http_route]\n',
      errors: ['spans.dimensions: "http.route" and "http_route" would both be the label http_route'],
    },
    {
      name: 'span buckets out of order',
      yaml: 'spans:\n  histogram_buckets: [10ms, 5ms]\n',
      errors: ['spans.histogram_buckets: must be a non-empty, ascending list of durations such as 2ms, 1.4s, 250us (or seconds as numbers) ("5ms" is not above the bound before it)'],
    },
    {
      name: 'span bucket that is not a duration',
      yaml: 'spans:\n  histogram_buckets: [10 ms]\n',
      errors: ['spans.histogram_buckets: must be a non-empty, ascending list of durations such as 2ms, 1.4s, 250us (or seconds as numbers) (got "10 ms")'],
    },
    {
      name: 'empty span bucket list',
      yaml: 'spans:\n  histogram_buckets: []\n',
      errors: ['spans.histogram_buckets: must be a non-empty, ascending list of durations such as 2ms, 1.4s, 250us (or seconds as numbers) (got a list)'],
    },
    { name: 'native_histogram_schema out of range', yaml: 'spans:\n  native_histogram_schema: 9\n', errors: ['spans.native_histogram_schema: must be an integer from -4 to 8 (a Prometheus native-histogram schema) (got 9)'] },
    { name: 'native_histogram_max_buckets negative', yaml: 'spans:\n  native_histogram_max_buckets: -1\n', errors: ['spans.native_histogram_max_buckets: must be an integer from 0 (no native histograms) to 10000 (got -1)'] },
    { name: 'error_on_http_5xx not a boolean', yaml: 'spans:\n  error_on_http_5xx: yes\n', errors: ['spans.error_on_http_5xx: must be true or false (got "yes")'] },
    { name: 'top level is a list', yaml: '- a\n- b\n', errors: ['top level: must be a mapping (got a list)'] },
    {
      name: 'message larger than the admission budget',
      yaml: 'otlp:\n  grpc:\n    max_message_size: 2MiB\n  http:\n    max_message_size: 1MiB\n  max_inflight_size: 1MiB\n',
      errors: [
        'otlp.grpc.max_message_size: must not exceed otlp.max_inflight_size (2097152 > 1048576 bytes), or no request that large could be admitted',
      ],
    },
    {
      name: 'two listeners on one address',
      yaml: 'status:\n  endpoint: 0.0.0.0:9464\n',
      errors: ['status.endpoint: port 9464 is already used by prometheus.endpoint'],
    },
    { name: 'YAML syntax: unclosed quote', yaml: 'log:\n  level: "info\n', errors: ['line 3, column 1: YAML syntax error: Missing closing "quote'] },
    {
      name: 'YAML syntax: nested mapping on one line',
      yaml: 'otlp:\n  grpc: endpoint: x\n',
      errors: ['line 2, column 9: YAML syntax error: Nested mappings are not allowed in compact mappings'],
    },
    { name: 'YAML syntax: duplicate key', yaml: 'log:\n  level: info\n  level: debug\n', errors: ['line 3, column 3: YAML syntax error: Map keys must be unique'] },
    { name: 'YAML syntax: tab indentation', yaml: 'log:\n\tlevel: info\n', errors: ['line 2, column 1: YAML syntax error: Tabs are not allowed as indentation'] },
  ];

  for (const { name, yaml, errors } of cases) {
    test(name, () => {
      assert.deepEqual(errorsOf(yaml), errors);
    });
  }

  test('validateConfig returns the same messages without throwing', () => {
    assert.deepEqual(validateConfig({ series: { limit: 0 } }), { errors: ['series.limit: must be a positive integer (got 0)'] });
  });
});

describe('all errors at once', () => {
  test('every problem in the file is reported in one error', () => {
    const errors = errorsOf(`
otpl: {}
otlp:
  grpc:
    endpoint: nope
    endpont: 1.2.3.4:4317
prometheus:
  scrape_timeout: soon
series:
  limit: -1
workers:
  threads: 0
log:
  level: loud
`);
    assert.deepEqual(errors, [
      'otlp.grpc.endpoint: must be host:port (got "nope")',
      "'otlp.grpc' has invalid key: endpont",
      'prometheus.scrape_timeout: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got "soon")',
      'workers.threads: must be "auto" or a positive integer (got 0)',
      'series.limit: must be a positive integer (got -1)',
      'log.level: must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
      'top level has invalid key: otpl',
    ]);
  });

  test('ConfigError carries a stable code, a name, the source and every message', () => {
    const file = writeConfig('series:\n  limit: 0\nlog:\n  level: loud\n');
    assert.throws(
      () => loadConfig(file, {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error instanceof VigilError);
        assert.equal(error.code, 'VIGIL_CONFIG_INVALID');
        assert.equal(error.name, 'ConfigError');
        assert.equal(error.source, file);
        assert.equal(error.errors.length, 2);
        assert.equal(
          error.message,
          `invalid configuration in ${file} (2 errors):\n` +
            '  series.limit: must be a positive integer (got 0)\n' +
            '  log.level: must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
        );
        return true;
      },
    );
  });

  test('a missing file names the path', () => {
    const file = join(dir, 'does-not-exist.yaml');
    assert.deepEqual(
      (() => {
        try {
          loadConfig(file, {});
        } catch (error) {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, /does-not-exist\.yaml/);
          return error.errors;
        }
        return [];
      })(),
      [`file not found: ${file}`],
    );
  });

  test('a directory instead of a file', () => {
    assert.deepEqual(
      (() => {
        try {
          loadConfig(dir, {});
        } catch (error) {
          assert.ok(error instanceof ConfigError);
          return error.errors;
        }
        return [];
      })(),
      [`is a directory, not a file: ${dir}`],
    );
  });
});

describe('command-line overrides', () => {
  const file = () =>
    writeConfig(`
otlp:
  grpc:
    endpoint: 127.0.0.1:1111
prometheus:
  endpoint: 127.0.0.1:2222
status:
  endpoint: 127.0.0.1:3333
storage:
  data_dir: /from/file
series:
  limit: 7
`);

  test('flags beat the file, other keys keep the file value', () => {
    const config = loadConfig(file(), { otlpGrpc: '0.0.0.0:4444', metrics: '[::]:5555', status: 'localhost:0', dataDir: '/from/flag' });
    assert.deepEqual(config.otlp.grpc, { host: '0.0.0.0', port: 4444, maxMessageBytes: 16 * 1024 ** 2, tls: null, maxConnections: 1024, maxConcurrentStreams: 100, handshakeTimeoutMs: 10_000, maxConnectionIdleMs: 300_000 });
    assert.deepEqual({ host: config.prometheus.host, port: config.prometheus.port }, { host: '::', port: 5555 });
    assert.deepEqual(config.status, { ...DEFAULTS.status, host: 'localhost', port: 0 });
    assert.equal(config.storage.dataDir, '/from/flag');
    assert.equal(config.series.limit, 7);
  });

  test('flags without a file apply to the defaults', () => {
    const config = loadConfig(undefined, { status: '127.0.0.1:0' });
    assert.deepEqual(config, { ...DEFAULTS, status: { ...DEFAULTS.status, host: '127.0.0.1', port: 0 } });
  });

  test('a bad flag value is reported under the flag name', () => {
    assert.deepEqual(errorsOf(undefined, { otlpGrpc: 'nope', metrics: '1.2.3.4:99999', dataDir: '' }), [
      '--otlp-grpc: must be host:port (got "nope")',
      '--metrics: port must be 0..65535 (got "1.2.3.4:99999")',
      '--data-dir: must be a non-empty path (got "")',
    ]);
  });

  test('a flag replaces a bad file value, and file and flag errors are reported together', () => {
    assert.deepEqual(errorsOf('status:\n  endpoint: nope\nseries:\n  limit: 0\n', { status: '127.0.0.1:0', metrics: 'x' }), [
      '--metrics: must be host:port (got "x")',
      'series.limit: must be a positive integer (got 0)',
    ]);
  });

  test('flags are checked even when the file is not valid YAML', () => {
    assert.deepEqual(errorsOf('log: [\n', { otlpGrpc: 'nope' }), [
      'line 2, column 1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
      '--otlp-grpc: must be host:port (got "nope")',
    ]);
  });

  test('flags are checked even when their section in the file is not a mapping', () => {
    assert.deepEqual(errorsOf('prometheus: 5\n', { metrics: 'x' }), ['--metrics: must be host:port (got "x")', 'prometheus: must be a mapping (got 5)']);
  });

  test('a listener conflict caused by a flag names the flag', () => {
    assert.deepEqual(errorsOf(undefined, { status: '127.0.0.1:4317' }), ['--status: port 4317 is already used by otlp.grpc.endpoint']);
  });

  test('--otlp-http overrides otlp.http.endpoint and keeps its max_message_size', () => {
    const config = loadConfig(writeConfig('otlp:\n  http:\n    endpoint: 127.0.0.1:1111\n    max_message_size: 1MiB\n'), { otlpHttp: '[::1]:0' });
    assert.deepEqual(config.otlp.http, { host: '::1', port: 0, maxMessageBytes: 1024 ** 2, tls: null });
    assert.deepEqual(errorsOf(undefined, { otlpHttp: 'nope' }), ['--otlp-http: must be host:port (got "nope")']);
    assert.deepEqual(errorsOf(undefined, { otlpHttp: '0.0.0.0:4317' }), ['--otlp-http: port 4317 is already used by otlp.grpc.endpoint']);
  });

  test('otlp.http.max_message_size may not exceed otlp.max_inflight_size', () => {
    assert.deepEqual(errorsOf('otlp:\n  http:\n    max_message_size: 2MiB\n  grpc:\n    max_message_size: 1MiB\n  max_inflight_size: 1MiB\n'), [
      'otlp.http.max_message_size: must not exceed otlp.max_inflight_size (2097152 > 1048576 bytes), or no request that large could be admitted',
    ]);
  });
});

describe('components and slos', () => {
  const ISSUE_EXAMPLE = `
components:
  - id: api
    name: API
    group: Apps
slos:
  - id: api-availability
    component: api
    objective: 99.9            # percent of good events
    window: 30d                # rolling; or: { calendar: month, timezone: Europe/Berlin }
    indicator:
      availability:
        spans: { service: checkout }     # server spans of that service; bad = status ERROR
  - id: api-latency
    component: api
    objective: 99
    window: 30d
    indicator:
      latency:
        spans: { service: checkout }
        threshold: 250ms                 # any value: read from the HDR histogram, not a bucket bound
`;

  test('the example from issue 4 loads exactly as written', () => {
    const config = loadConfig(writeConfig(ISSUE_EXAMPLE), {});
    assert.deepEqual(config.components, [{ id: 'api', name: 'API', group: 'Apps', description: null }]);
    assert.deepEqual(config.slos, [
      {
        id: 'api-availability',
        name: 'api-availability',
        component: 'api',
        objectivePercent: 99.9,
        objective: 0.999,
        window: { kind: 'rolling', label: '30d', minutes: 43_200, timezone: 'UTC' },
        indicator: { type: 'span_availability', spans: { service: 'checkout', spanKind: 'SERVER', spanName: null } },
      },
      {
        id: 'api-latency',
        name: 'api-latency',
        component: 'api',
        objectivePercent: 99,
        objective: 0.99,
        window: { kind: 'rolling', label: '30d', minutes: 43_200, timezone: 'UTC' },
        indicator: { type: 'span_latency', spans: { service: 'checkout', spanKind: 'SERVER', spanName: null }, thresholdSeconds: 0.25 },
      },
    ]);
  });

  test('calendar windows, slo.timezone as their default, metric indicators', () => {
    const config = loadConfig(
      writeConfig(`
slo:
  timezone: America/New_York
components:
  - { id: web }
slos:
  - id: month-berlin
    component: web
    objective: 99.5
    window: { calendar: month, timezone: Europe/Berlin }
    indicator:
      availability:
        metric:
          good: 'http_requests_total{job="web",code!~"5.."}'
          total: http_requests_total{job="web"}
  - id: quarter-default
    component: web
    objective: 95
    window: { calendar: quarter }
    indicator:
      latency:
        metric: { histogram: 'http_server_duration_seconds{route=~"/api/.*"}' }
        threshold: 1s
  - id: client-spans
    component: web
    objective: 90
    window: 28d
    indicator:
      availability:
        spans: { service: web, span_kind: client, span_name: GET /x }
`),
      {},
    );
    assert.deepEqual(config.components, [{ id: 'web', name: 'web', group: null, description: null }]);
    const [month, quarter, client] = config.slos;
    assert.deepEqual(month!.window, { kind: 'calendar', label: 'month', period: 'month', timezone: 'Europe/Berlin' });
    assert.deepEqual(month!.indicator, {
      type: 'metric_availability',
      good: {
        name: 'http_requests_total',
        matchers: [
          { label: 'job', op: '=', value: 'web' },
          { label: 'code', op: '!~', value: '5..' },
        ],
      },
      total: { name: 'http_requests_total', matchers: [{ label: 'job', op: '=', value: 'web' }] },
    });
    assert.deepEqual(quarter!.window, { kind: 'calendar', label: 'quarter', period: 'quarter', timezone: 'America/New_York' });
    assert.deepEqual(quarter!.indicator, {
      type: 'metric_latency',
      histogram: { name: 'http_server_duration_seconds', matchers: [{ label: 'route', op: '=~', value: '/api/.*' }] },
      thresholdSeconds: 1,
    });
    assert.deepEqual(client!.window, { kind: 'rolling', label: '28d', minutes: 40_320, timezone: 'America/New_York' });
    assert.deepEqual(client!.indicator, { type: 'span_availability', spans: { service: 'web', spanKind: 'CLIENT', spanName: 'GET /x' } });
  });

  const slo = (fields: string) => `components:\n  - id: api\nslos:\n  - id: a\n    component: api\n    objective: 99\n    window: 30d\n    indicator: { availability: { spans: { service: s } } }\n  - ${fields}\n`;
  const cases: { name: string; yaml: string; errors: string[] }[] = [
    { name: 'objective of 100', yaml: slo('{ id: b, component: api, objective: 100, window: 30d, indicator: { availability: { spans: { service: s } } } }'), errors: ['slos[1].objective: must be below 100 (got 100)'] },
    { name: 'objective of 0', yaml: slo('{ id: b, component: api, objective: 0, window: 30d, indicator: { availability: { spans: { service: s } } } }'), errors: ['slos[1].objective: must be above 0 (got 0)'] },
    {
      name: 'objective as a string',
      yaml: slo('{ id: b, component: api, objective: "99.9%", window: 30d, indicator: { availability: { spans: { service: s } } } }'),
      errors: ['slos[1].objective: must be a percentage between 0 and 100, such as 99.9 (got "99.9%")'],
    },
    {
      name: 'window too short',
      yaml: slo('{ id: b, component: api, objective: 99, window: 1h, indicator: { availability: { spans: { service: s } } } }'),
      errors: ['slos[1].window: must be a rolling window of whole minutes from 1d to 92d such as 30d or 28d, or { calendar: month } (got "1h")'],
    },
    {
      name: 'unknown calendar period',
      yaml: slo('{ id: b, component: api, objective: 99, window: { calendar: week }, indicator: { availability: { spans: { service: s } } } }'),
      errors: ['slos[1].window.calendar: must be month or quarter (got "week")'],
    },
    {
      name: 'unknown time zone',
      yaml: slo('{ id: b, component: api, objective: 99, window: { calendar: month, timezone: Europe/Berlinn }, indicator: { availability: { spans: { service: s } } } }'),
      errors: ['slos[1].window.timezone: must be an IANA time zone such as UTC or Europe/Berlin (got "Europe/Berlinn")'],
    },
    { name: 'slo.timezone unknown', yaml: 'slo:\n  timezone: Mars/Olympus\n', errors: ['slo.timezone: must be an IANA time zone such as UTC or Europe/Berlin (got "Mars/Olympus")'] },
    {
      name: 'unknown keys inside an SLO',
      yaml: slo('{ id: b, component: api, objective: 99, window: 30d, indicator: { availability: { spans: { service: s, kind: SERVER } } }, target: 1 }'),
      errors: ["'slos[1]' has invalid key: target", "'slos[1].indicator.availability.spans' has invalid key: kind"],
    },
    {
      name: 'both availability and latency',
      yaml: slo('{ id: b, component: api, objective: 99, window: 30d, indicator: { availability: { spans: { service: s } }, latency: { spans: { service: s }, threshold: 1s } } }'),
      errors: ['slos[1].indicator: must have exactly one of availability or latency (got both)'],
    },
    {
      name: 'latency without a threshold',
      yaml: slo('{ id: b, component: api, objective: 99, window: 30d, indicator: { latency: { spans: { service: s } } } }'),
      errors: ['slos[1].indicator.latency.threshold: must be a positive duration such as 250ms or 1s (got undefined)'],
    },
    {
      name: 'bad span kind',
      yaml: slo('{ id: b, component: api, objective: 99, window: 30d, indicator: { availability: { spans: { service: s, span_kind: server-side } } } }'),
      errors: ['slos[1].indicator.availability.spans.span_kind: must be one of SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL (got "server-side")'],
    },
    {
      name: 'bad metric selector',
      yaml: slo(`{ id: b, component: api, objective: 99, window: 30d, indicator: { availability: { metric: { good: 'x{code=5}', total: 'x{code=~"("}' } } } }`),
      errors: [
        `slos[1].indicator.availability.metric.good: must be a metric selector such as 'http_requests_total{code!~"5.."}' (got "x{code=5}")`,
        `slos[1].indicator.availability.metric.total: must be a metric selector such as 'http_requests_total{code!~"5.."}': invalid regular expression for code: ( (got "x{code=~\\"(\\"}")`,
      ],
    },
    {
      name: 'missing window and indicator',
      yaml: slo('{ id: b, component: api, objective: 99 }'),
      errors: ['slos[1].window: is required: a rolling window such as 30d, or { calendar: month }', 'slos[1].indicator: is required: availability or latency'],
    },
    { name: 'slos not a list', yaml: 'slos: { id: a }\n', errors: ['slos: must be a list (got a mapping)'] },
    {
      name: 'component id with a space',
      yaml: 'components:\n  - id: my api\n',
      errors: [`components[0].id: must be an id of letters, digits, '-', '_' or '.', starting with a letter or digit (got "my api")`],
    },
    {
      name: 'SLO naming an unknown component',
      yaml: slo('{ id: b, component: web, objective: 99, window: 30d, indicator: { availability: { spans: { service: s } } } }'),
      errors: ['slos[1].component: no component with id "web" (defined: api)'],
    },
    {
      name: 'duplicate ids',
      yaml: 'components:\n  - id: api\n  - id: api\n' + slo('{ id: a, component: api, objective: 99, window: 30d, indicator: { availability: { spans: { service: s } } } }').replace('components:\n  - id: api\n', ''),
      errors: ['components[1].id: "api" is already used by components[0]', 'slos[1].id: "a" is already used by slos[0]'],
    },
    { name: 'flush_interval without a unit', yaml: 'storage:\n  flush_interval: 1\n', errors: ['storage.flush_interval: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got 1)'] },
  ];
  for (const { name, yaml, errors } of cases) {
    test(name, () => {
      assert.deepEqual(errorsOf(yaml), errors);
    });
  }
});
