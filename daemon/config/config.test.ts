import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
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

const DEFAULTS: Config = {
  otlp: { grpc: { host: '127.0.0.1', port: 4317, maxMessageBytes: 16 * 1024 ** 2 }, maxInflightBytes: 64 * 1024 ** 2 },
  prometheus: { host: '127.0.0.1', port: 9464, maxConcurrentScrapes: 4, scrapeTimeoutMs: 10_000 },
  status: { host: '127.0.0.1', port: 8080 },
  storage: { dataDir: resolve('./data') },
  workers: { threads: Math.max(1, availableParallelism() - 1), maxQueue: 256 },
  series: { limit: 200_000, stalenessMs: 300_000, exponentialMaxScale: 3 },
  log: { level: 'info' },
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
  max_inflight_size: 1GB
prometheus:
  endpoint: 0.0.0.0:19464
  max_concurrent_scrapes: 2
  scrape_timeout: 1m30s
status:
  endpoint: localhost:0
storage:
  data_dir: /var/lib/vigil
workers:
  threads: 3
  max_queue: 0
series:
  limit: 1000
  staleness: 1h
  exponential_max_scale: -10
log:
  level: debug
`);
    const expected: Config = {
      otlp: { grpc: { host: '::1', port: 14317, maxMessageBytes: 4 * 1024 ** 2 }, maxInflightBytes: 1e9 },
      prometheus: { host: '0.0.0.0', port: 19464, maxConcurrentScrapes: 2, scrapeTimeoutMs: 90_000 },
      status: { host: 'localhost', port: 0 },
      storage: { dataDir: '/var/lib/vigil' },
      workers: { threads: 3, maxQueue: 0 },
      series: { limit: 1000, stalenessMs: 3_600_000, exponentialMaxScale: -10 },
      log: { level: 'debug' },
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
    { name: 'top level is a list', yaml: '- a\n- b\n', errors: ['top level: must be a mapping (got a list)'] },
    {
      name: 'message larger than the admission budget',
      yaml: 'otlp:\n  grpc:\n    max_message_size: 2MiB\n  max_inflight_size: 1MiB\n',
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
    assert.deepEqual(config.otlp.grpc, { host: '0.0.0.0', port: 4444, maxMessageBytes: 16 * 1024 ** 2 });
    assert.deepEqual({ host: config.prometheus.host, port: config.prometheus.port }, { host: '::', port: 5555 });
    assert.deepEqual(config.status, { host: 'localhost', port: 0 });
    assert.equal(config.storage.dataDir, '/from/flag');
    assert.equal(config.series.limit, 7);
  });

  test('flags without a file apply to the defaults', () => {
    const config = loadConfig(undefined, { status: '127.0.0.1:0' });
    assert.deepEqual(config, { ...DEFAULTS, status: { host: '127.0.0.1', port: 0 } });
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
});
