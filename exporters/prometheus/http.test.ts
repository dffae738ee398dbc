import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { createPrometheusExporter, type PrometheusExporter, type PrometheusExporterOptions, type ScrapeOutcome } from './index.js';
import { acceptsGzip, negotiateFormat, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, type ExpositionFormat } from './http.js';
import { escapeHelp, familyName, formatValue, labelSet, labelText } from '../../daemon/model/naming.js';
import { ExpositionBuffers, ExpositionWriter } from './exposition-writer.js';

const PROMETHEUS_2_42_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMETHEUS_3_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,' +
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,' +
  'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function fetchRaw(exporter: PrometheusExporter, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const { host, port } = exporter.address();
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A promise plus its resolver, to hold renders open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Waits until `check()` holds (renders have begun), polling the event loop. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(check(), 'condition never held');
}

function scrapeLog(): { outcomes: Array<[string, ScrapeOutcome]>; onScrape: (s: number, f: string, o: ScrapeOutcome) => void } {
  const outcomes: Array<[string, ScrapeOutcome]> = [];
  return {
    outcomes,
    onScrape: (seconds, format, outcome) => {
      assert.ok(seconds >= 0 && seconds < 60);
      outcomes.push([format, outcome]);
    },
  };
}

/** Prometheus 2.42's Accept with --enable-feature=native-histograms (scrape/scrape.go). */
const PROMETHEUS_2_42_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

function baseOptions(render: PrometheusExporterOptions['render']) {
  return { host: '127.0.0.1', port: 0, maxConcurrentScrapes: 4, scrapeTimeoutMs: 10_000, render, ready: () => true };
}

describe('negotiateFormat', () => {
  const cases: Array<[string | undefined, ExpositionFormat]> = [
    [PROMETHEUS_2_42_ACCEPT, 'openmetrics'],
    // Prometheus 3 prefers protobuf (q=0.6 over OpenMetrics' 0.5), which Vigil now serves.
    [PROMETHEUS_3_ACCEPT, 'protobuf'],
    // Prometheus 2.42 with --enable-feature=native-histograms.
    [PROMETHEUS_2_42_NATIVE_ACCEPT, 'protobuf'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited', 'protobuf'],
    // Other encodings of the protobuf type are not served.
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;q=0.5', 'text'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    ['text/plain;version=0.0.4', 'text'],
    [undefined, 'text'],
    ['', 'text'],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version=0.0.1', 'openmetrics'],
    ['application/openmetrics-text;version=1.0.0,*/*', 'openmetrics'],
    ['application/openmetrics-text;q=0.2,text/plain;q=0.5', 'text'],
    ['text/plain;q=0.1, application/openmetrics-text;q=0.9', 'openmetrics'],
    ['application/openmetrics-text;q=0', 'text'],
    ['application/openmetrics-text;version=2.0.0', 'text'],
    ['text/*;q=0.3, application/openmetrics-text;q=0.2', 'text'],
    // The specific text/plain range (q=0.1) decides over */*; OpenMetrics wins.
    ['text/plain;q=0.1, */*, application/openmetrics-text;q=0.5', 'openmetrics'],
    ['application/json', 'text'],
  ];
  for (const [accept, format] of cases) {
    it(`${JSON.stringify(accept)} → ${format}`, () => assert.equal(negotiateFormat(accept), format));
  }
});

describe('acceptsGzip', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, gzip;q=0.5', true],
    ['gzip;q=0', false],
    ['identity', false],
    ['*', true],
    ['*;q=0', false],
    [undefined, false],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${expected}`, () => assert.equal(acceptsGzip(header), expected));
  }
});

describe('GET /metrics', () => {
  const body = (format: ExpositionFormat): string =>
    format === 'openmetrics' ? '# TYPE up gauge\nup 1\n# EOF\n' : '# TYPE up gauge\nup 1\n';
  const log = scrapeLog();
  const exporter = createPrometheusExporter({ ...baseOptions(async (f) => body(f)), onScrape: log.onScrape });
  before(() => exporter.start());
  after(() => exporter.shutdown());

  it('listens on a real port after port 0', () => {
    assert.equal(exporter.address().host, '127.0.0.1');
    assert.ok(exporter.address().port > 0);
  });

  it('answers Prometheus 2.42 with OpenMetrics 1.0', async () => {
    const res = await fetchRaw(exporter, '/metrics', { Accept: PROMETHEUS_2_42_ACCEPT });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], OPENMETRICS_CONTENT_TYPE);
    assert.equal(res.body.toString(), body('openmetrics'));
    assert.match(String(res.headers.vary), /Accept/);
  });

  it('answers curl (*/*) with text 0.0.4', async () => {
    const res = await fetchRaw(exporter, '/metrics', { Accept: '*/*' });
    assert.equal(res.headers['content-type'], TEXT_CONTENT_TYPE);
    assert.equal(res.body.toString(), body('text'));
  });

  it('answers text/plain with text 0.0.4', async () => {
    const res = await fetchRaw(exporter, '/metrics', { Accept: 'text/plain' });
    assert.equal(res.headers['content-type'], TEXT_CONTENT_TYPE);
  });

  it('answers no Accept with text 0.0.4', async () => {
    const res = await fetchRaw(exporter, '/metrics?debug=1');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], TEXT_CONTENT_TYPE);
  });

  it('gzips when asked', async () => {
    const res = await fetchRaw(exporter, '/metrics', { 'Accept-Encoding': 'gzip, deflate' });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(Number(res.headers['content-length']), res.body.length);
    assert.equal(gunzipSync(res.body).toString(), body('text'));
  });

  it('does not gzip when gzip has q=0', async () => {
    const res = await fetchRaw(exporter, '/metrics', { 'Accept-Encoding': 'gzip;q=0, identity' });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.body.toString(), body('text'));
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await fetchRaw(exporter, '/metrics', { Accept: PROMETHEUS_2_42_ACCEPT });
    const head = await fetchRaw(exporter, '/metrics', { Accept: PROMETHEUS_2_42_ACCEPT }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], OPENMETRICS_CONTENT_TYPE);
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.body.length, 0);
  });

  it('reports every scrape with its format and outcome', () => {
    assert.ok(log.outcomes.length >= 7);
    assert.deepEqual(log.outcomes[0], ['openmetrics', 'ok']);
    assert.deepEqual(log.outcomes[1], ['text', 'ok']);
  });
});

describe('GET /metrics with a pooled exposition buffer', () => {
  const pool = new ExpositionBuffers(1);
  const released: string[] = [];
  const hold = gate();
  let slow = false;
  const exporter = createPrometheusExporter({
    ...baseOptions(async () => {
      if (slow) await hold.promise;
      const out = new ExpositionWriter(0, pool);
      out.write('# TYPE up gauge\nup 1\n');
      const rendered = out.finish();
      return { bytes: rendered.bytes, release: () => { released.push(rendered.bytes.toString()); rendered.release(); } };
    }),
    scrapeTimeoutMs: 50,
  });
  before(() => exporter.start());
  after(async () => {
    hold.open();
    await exporter.shutdown();
  });

  it('serves the bytes, plain and gzipped, and releases the buffer once per scrape', async () => {
    const plain = await fetchRaw(exporter, '/metrics');
    assert.equal(plain.body.toString(), '# TYPE up gauge\nup 1\n');
    const zipped = await fetchRaw(exporter, '/metrics', { 'Accept-Encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(zipped.body).toString(), '# TYPE up gauge\nup 1\n');
    const head = await fetchRaw(exporter, '/metrics', {}, 'HEAD');
    assert.equal(head.status, 200);
    await until(() => released.length === 3);
    assert.deepEqual(released, Array(3).fill('# TYPE up gauge\nup 1\n'));
  });

  it('releases the buffer of a render that finishes after its scrape timed out', async () => {
    slow = true;
    const before = released.length;
    const res = await fetchRaw(exporter, '/metrics');
    assert.equal(res.status, 503);
    hold.open();
    await until(() => released.length === before + 1);
  });
});

describe('scrape limits', () => {
  describe('concurrent scrapes beyond the cap', () => {
    const hold = gate();
    let rendering = 0;
    const log = scrapeLog();
    const exporter = createPrometheusExporter({
      ...baseOptions(async () => {
        rendering++;
        await hold.promise;
        return 'up 1\n';
      }),
      maxConcurrentScrapes: 2,
      onScrape: log.onScrape,
    });
    before(() => exporter.start());
    after(async () => {
      hold.open();
      await exporter.shutdown();
    });

    it('answers 503 to the third while two render, then serves again', async () => {
      const first = fetchRaw(exporter, '/metrics');
      const second = fetchRaw(exporter, '/metrics');
      await until(() => rendering === 2);
      const third = await fetchRaw(exporter, '/metrics');
      assert.equal(third.status, 503);
      assert.match(third.body.toString(), /Limit of concurrent scrapes reached \(2\)/);
      hold.open();
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
      const fourth = await fetchRaw(exporter, '/metrics');
      assert.equal(fourth.status, 200);
      assert.deepEqual(
        log.outcomes.map(([, o]) => o),
        ['rejected', 'ok', 'ok', 'ok'],
      );
    });
  });

  describe('a render slower than the timeout', () => {
    const hold = gate();
    let rendering = 0;
    const log = scrapeLog();
    const exporter = createPrometheusExporter({
      ...baseOptions(async () => {
        rendering++;
        await hold.promise;
        return 'up 1\n';
      }),
      maxConcurrentScrapes: 1,
      scrapeTimeoutMs: 50,
      onScrape: log.onScrape,
    });
    before(() => exporter.start());
    after(async () => {
      hold.open();
      await exporter.shutdown();
    });

    it('answers 503 at the timeout', async () => {
      const began = Date.now();
      const res = await fetchRaw(exporter, '/metrics');
      assert.equal(res.status, 503);
      assert.match(res.body.toString(), /Exceeded configured timeout of 0\.05s/);
      assert.ok(Date.now() - began < 2000);
      assert.deepEqual(log.outcomes.at(-1), ['text', 'timeout']);
    });

    it('keeps the slot until the timed-out render settles', async () => {
      const res = await fetchRaw(exporter, '/metrics');
      assert.equal(res.status, 503);
      assert.match(res.body.toString(), /Limit of concurrent scrapes/);
      assert.equal(rendering, 1);
      hold.open();
      await new Promise((r) => setTimeout(r, 10));
      assert.equal((await fetchRaw(exporter, '/metrics')).status, 200);
    });
  });

  describe("Prometheus' own scrape timeout", () => {
    const exporter = createPrometheusExporter({
      ...baseOptions(() => new Promise<string>((resolve) => setTimeout(() => resolve('up 1\n'), 300))),
    });
    before(() => exporter.start());
    after(() => exporter.shutdown());

    it('shortens the configured timeout', async () => {
      const res = await fetchRaw(exporter, '/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '0.05' });
      assert.equal(res.status, 503);
      assert.match(res.body.toString(), /0\.05s/);
    });
  });
});

describe('render errors', () => {
  const warnings: Array<[object, string]> = [];
  const log = scrapeLog();
  let throwSync = false;
  const exporter = createPrometheusExporter({
    ...baseOptions(async () => {
      throw new Error('store is closed');
    }),
    logger: { warn: (obj, msg) => warnings.push([obj, msg]) },
    onScrape: log.onScrape,
  });
  const syncExporter = createPrometheusExporter({
    ...baseOptions((() => {
      throwSync = true;
      throw new Error('not a promise');
    }) as () => Promise<string>),
  });
  before(async () => {
    await exporter.start();
    await syncExporter.start();
  });
  after(async () => {
    await exporter.shutdown();
    await syncExporter.shutdown();
  });

  it('answers 500 with the message and logs it', async () => {
    const res = await fetchRaw(exporter, '/metrics');
    assert.equal(res.status, 500);
    assert.match(res.body.toString(), /store is closed/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]![1], /render failed/);
    assert.deepEqual(log.outcomes, [['text', 'error']]);
  });

  it('survives a render that throws instead of rejecting', async () => {
    const res = await fetchRaw(syncExporter, '/metrics');
    assert.equal(res.status, 500);
    assert.ok(throwSync);
    assert.equal((await fetchRaw(syncExporter, '/-/healthy')).status, 200);
  });
});

describe('health, readiness and routing', () => {
  let ready = false;
  const exporter = createPrometheusExporter({ ...baseOptions(async () => ''), ready: () => ready });
  before(() => exporter.start());
  after(() => exporter.shutdown());

  it('is healthy', async () => {
    const res = await fetchRaw(exporter, '/-/healthy');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'Vigil is Healthy.\n');
  });

  it('is ready only when ready() says so', async () => {
    assert.equal((await fetchRaw(exporter, '/-/ready')).status, 503);
    ready = true;
    const res = await fetchRaw(exporter, '/-/ready');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'Vigil is Ready.\n');
  });

  it('answers HEAD on health checks', async () => {
    const res = await fetchRaw(exporter, '/-/healthy', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
  });

  it('answers 404 to unknown paths', async () => {
    assert.equal((await fetchRaw(exporter, '/')).status, 404);
    assert.equal((await fetchRaw(exporter, '/metrics/extra')).status, 404);
  });

  it('answers 405 with Allow to other methods', async () => {
    for (const path of ['/metrics', '/-/healthy', '/-/ready']) {
      const res = await fetchRaw(exporter, path, {}, 'POST');
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });
});

describe('lifecycle', () => {
  it('shuts down without start, idempotently', async () => {
    const exporter = createPrometheusExporter(baseOptions(async () => ''));
    await exporter.shutdown();
    await exporter.shutdown(10);
    await assert.rejects(exporter.start(), /start after shutdown/);
  });

  it('rejects start when the port is taken', async () => {
    const first = createPrometheusExporter(baseOptions(async () => ''));
    await first.start();
    const second = createPrometheusExporter({ ...baseOptions(async () => ''), port: first.address().port });
    await assert.rejects(second.start(), { code: 'EADDRINUSE' });
    await second.shutdown();
    await first.shutdown();
  });

  it('lets a scrape in flight finish before the deadline', async () => {
    const hold = gate();
    let rendering = 0;
    const exporter = createPrometheusExporter(
      baseOptions(async () => {
        rendering++;
        await hold.promise;
        return 'up 1\n';
      }),
    );
    await exporter.start();
    const scrape = fetchRaw(exporter, '/metrics');
    await until(() => rendering === 1);
    const stopped = exporter.shutdown(5000);
    assert.strictEqual(exporter.shutdown(), stopped);
    hold.open();
    const res = await scrape;
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, 'close');
    await stopped;
  });

  it('drops a scrape still rendering at the deadline', async () => {
    const hold = gate();
    let rendering = 0;
    const exporter = createPrometheusExporter(
      baseOptions(async () => {
        rendering++;
        await hold.promise;
        return 'up 1\n';
      }),
    );
    await exporter.start();
    const scrape = fetchRaw(exporter, '/metrics');
    await until(() => rendering === 1);
    await exporter.shutdown(20);
    await assert.rejects(scrape, /socket hang up|ECONNRESET/);
    hold.open();
  });
});

describe('exposition checked by promtool', () => {
  const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

  // A small render built from the naming functions, as the store's renderer will do.
  function render(): string {
    const lines: string[] = [];
    const counter = familyName('http.server.requests', '{request}', 'counter');
    const labels = labelSet([['http.route', '/api/"v1"'], ['service.name', 'api'], ['http.method', 'GET']]);
    lines.push(`# HELP ${counter.name}_total ${escapeHelp('Requests\nserved, by "route" \\ method.', false)}`);
    lines.push(`# TYPE ${counter.name}_total counter`);
    lines.push(`${counter.name}_total${labelText(labels)} ${formatValue(1234)}`);
    const hist = familyName('http.server.request.duration', 's', 'histogram');
    lines.push(`# HELP ${hist.name} Request duration.`);
    lines.push(`# TYPE ${hist.name} histogram`);
    for (const [le, count] of [[0.005, 1], [0.1, 3], [Infinity, 4]] as const) {
      lines.push(`${hist.name}_bucket${labelText(labels, `le="${formatValue(le)}"`)} ${count}`);
    }
    lines.push(`${hist.name}_sum${labelText(labels)} ${formatValue(0.30000000000000004)}`);
    lines.push(`${hist.name}_count${labelText(labels)} 4`);
    const ratio = familyName('system.cpu.utilization', '1', 'gauge');
    lines.push(`# HELP ${ratio.name} CPU.`, `# TYPE ${ratio.name} gauge`, `${ratio.name} ${formatValue(NaN)}`);
    return `${lines.join('\n')}\n`;
  }
  const exporter = createPrometheusExporter(baseOptions(async () => render()));
  before(() => exporter.start());
  after(() => exporter.shutdown());

  it('passes promtool check metrics', { skip: !hasPromtool && 'promtool not on PATH' }, async () => {
    const res = await fetchRaw(exporter, '/metrics', { Accept: 'text/plain;version=0.0.4', 'Accept-Encoding': 'gzip' });
    const text = gunzipSync(res.body).toString();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}\n${text}`);
  });
});
