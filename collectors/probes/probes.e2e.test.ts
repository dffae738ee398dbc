// Probes against real targets started here (node:http and https with an openssl CA and a 3-day
// certificate, a closed port, a slow endpoint, a TCP banner server, a gRPC health server, dnsmasq):
// every condition kind passing and failing, a target taken down and brought back, and the same
// targets probed by Debian's prometheus-blackbox-exporter, whose verdicts must agree with Vigil's.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import type { Config } from '../../daemon/config/types.js';
import { sampleValue, scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { freePort, pollUntil } from '../../test-support/wait.js';
import { FlakyHttp, startTargets } from './testing.js';
import { TEST_TOKEN, admin } from '../../exporters/status/testing.js';
import type { Targets } from './testing.js';

/** A probe of the table: its YAML (without id/component) and whether its run must succeed. */
interface Case {
  id: string;
  yaml: Record<string, unknown>;
  succeeds: boolean;
  /** The blackbox_exporter module and target probing the same thing, when it has one. */
  blackbox?: { module: string; target: string };
}

function cases(t: Targets): Case[] {
  const http = (path: string, conditions?: string[], extra: Record<string, unknown> = {}) => ({ http: { url: `http://127.0.0.1:${t.http.port}${path}`, ...extra }, ...(conditions ? { conditions } : {}) });
  const https = (path: string, conditions?: string[], ca = true) => ({ http: { url: `https://127.0.0.1:${t.httpsPort}${path}`, ...(ca ? { tls: { ca_file: t.pki.caFile } } : {}) }, ...(conditions ? { conditions } : {}) });
  const bbHttp = (path: string) => `http://127.0.0.1:${t.http.port}${path}`;
  const bbHttps = (path: string) => `https://127.0.0.1:${t.httpsPort}${path}`;
  const dns = (name: string, extra: Record<string, unknown> = {}, conditions?: string[]) => ({ dns: { server: `127.0.0.1:${t.dnsPort}`, name, ...extra }, ...(conditions ? { conditions } : {}) });
  return [
    // Defaults: a 2xx or 3xx answer is success.
    { id: 'http-ok', yaml: http('/ok'), succeeds: true, blackbox: { module: 'http_2xx', target: bbHttp('/ok') } },
    { id: 'http-500', yaml: http('/500'), succeeds: false, blackbox: { module: 'http_2xx', target: bbHttp('/500') } },
    { id: 'http-redirect', yaml: http('/redirect'), succeeds: true, blackbox: { module: 'http_2xx', target: bbHttp('/redirect') } },
    { id: 'http-closed', yaml: { http: { url: `http://127.0.0.1:${t.closedPort}/` } }, succeeds: false, blackbox: { module: 'http_2xx', target: `http://127.0.0.1:${t.closedPort}/` } },
    { id: 'http-slow', yaml: { ...http('/slow?ms=3000'), timeout: '1s' }, succeeds: false, blackbox: { module: 'http_1s', target: bbHttp('/slow?ms=3000') } },
    // [STATUS]
    { id: 'status-pass', yaml: http('/404', ['[STATUS] == 404']), succeeds: true, blackbox: { module: 'http_404', target: bbHttp('/404') } },
    { id: 'status-fail', yaml: http('/ok', ['[STATUS] == any(201, 204)']), succeeds: false, blackbox: { module: 'http_201_204', target: bbHttp('/ok') } },
    { id: 'status-range', yaml: http('/500', ['[STATUS] >= 500', '[STATUS] < 600']), succeeds: true },
    // [RESPONSE_TIME]
    { id: 'time-pass', yaml: http('/ok', ['[RESPONSE_TIME] < 1s']), succeeds: true },
    { id: 'time-fail', yaml: { ...http('/slow?ms=300', ['[RESPONSE_TIME] < 100ms']), timeout: '2s' }, succeeds: false },
    // [BODY] with JSON paths, contains(), regular expressions, len() and sizes
    { id: 'body-path-pass', yaml: http('/ok', ['[BODY].status == "UP"', '[BODY].data[0].id == 7', '[BODY].data[0].name == first']), succeeds: true, blackbox: { module: 'http_body_up', target: bbHttp('/ok') } },
    { id: 'body-path-fail', yaml: http('/ok', ['[BODY].status == DOWN']), succeeds: false, blackbox: { module: 'http_body_down', target: bbHttp('/ok') } },
    { id: 'body-contains-pass', yaml: http('/ok', ['[BODY] == contains("\\"UP\\"")']), succeeds: true },
    { id: 'body-contains-fail', yaml: http('/500', ['[BODY] == contains(UP)']), succeeds: false },
    { id: 'body-regex-pass', yaml: http('/ok', ['[BODY] == /"status":\\s*"U[P]"/', '[BODY].data[0].name != /^x/']), succeeds: true },
    { id: 'body-regex-fail', yaml: http('/ok', ['[BODY].data[0].name == /^sec/']), succeeds: false },
    { id: 'body-len-pass', yaml: http('/ok', ['len([BODY].data) == 1', 'len([BODY]) < 1KB', '[BODY].size > 1']), succeeds: true },
    { id: 'body-len-fail', yaml: http('/ok', ['len([BODY]) > 1KiB']), succeeds: false },
    // [HEADER]
    { id: 'header-pass', yaml: http('/ok', ['[HEADER].x-version == 1.2.3', '[HEADER].Content-Type == contains(json)']), succeeds: true },
    { id: 'header-fail', yaml: http('/ok', ['[HEADER].content-type == contains(xml)']), succeeds: false },
    // [CERTIFICATE_EXPIRATION] on a 3-day certificate, HTTPS and the tls kind
    { id: 'https-ok', yaml: https('/ok'), succeeds: true, blackbox: { module: 'http_ca', target: bbHttps('/ok') } },
    { id: 'https-unknown-ca', yaml: https('/ok', undefined, false), succeeds: false, blackbox: { module: 'http_2xx', target: bbHttps('/ok') } },
    { id: 'cert-pass', yaml: https('/ok', ['[CERTIFICATE_EXPIRATION] > 2d', '[STATUS] == 200']), succeeds: true },
    { id: 'cert-fail', yaml: https('/ok', ['[CERTIFICATE_EXPIRATION] > 7d']), succeeds: false },
    { id: 'tls-pass', yaml: { tls: { address: `127.0.0.1:${t.httpsPort}`, ca_file: t.pki.caFile }, conditions: ['[CERTIFICATE_EXPIRATION] > 2d'] }, succeeds: true, blackbox: { module: 'tcp_tls_ca', target: `127.0.0.1:${t.httpsPort}` } },
    { id: 'tls-fail', yaml: { tls: { address: `127.0.0.1:${t.httpsPort}`, ca_file: t.pki.caFile }, conditions: ['[CERTIFICATE_EXPIRATION] > 7d'] }, succeeds: false },
    { id: 'tls-untrusted', yaml: { tls: { address: `127.0.0.1:${t.httpsPort}` } }, succeeds: false, blackbox: { module: 'tcp_tls', target: `127.0.0.1:${t.httpsPort}` } },
    // [CONNECTED] and tcp send/expect
    { id: 'tcp-pass', yaml: { tcp: { address: `127.0.0.1:${t.tcpPort}`, send: 'ping\r\n', expect: '^\\+OK' }, conditions: ['[CONNECTED] == true'] }, succeeds: true, blackbox: { module: 'tcp_banner', target: `127.0.0.1:${t.tcpPort}` } },
    { id: 'tcp-expect-fail', yaml: { tcp: { address: `127.0.0.1:${t.tcpPort}`, expect: '^-ERR' }, timeout: '1s' }, succeeds: false, blackbox: { module: 'tcp_err_1s', target: `127.0.0.1:${t.tcpPort}` } },
    { id: 'tcp-closed', yaml: { tcp: { address: `127.0.0.1:${t.closedPort}` } }, succeeds: false, blackbox: { module: 'tcp_connect', target: `127.0.0.1:${t.closedPort}` } },
    { id: 'connected-false-pass', yaml: { tcp: { address: `127.0.0.1:${t.closedPort}` }, conditions: ['[CONNECTED] == false'] }, succeeds: true },
    { id: 'connected-true-fail', yaml: { tcp: { address: `127.0.0.1:${t.closedPort}` }, conditions: ['[CONNECTED] == true'] }, succeeds: false },
    // [IP]
    { id: 'ip-pass', yaml: http('/ok', ['[IP] == 127.0.0.1']), succeeds: true },
    { id: 'ip-fail', yaml: { tcp: { address: `127.0.0.1:${t.tcpPort}` }, conditions: ['[IP] == any(10.0.0.1, ::1)'] }, succeeds: false },
    // DNS: [DNS_RCODE], [BODY] = answers
    { id: 'dns-pass', yaml: dns('ok.test', { answers: ['^127\\.0\\.0\\.1$'] }, ['[DNS_RCODE] == NOERROR', '[BODY] == 127.0.0.1']), succeeds: true, blackbox: { module: 'dns_ok', target: `127.0.0.1:${t.dnsPort}` } },
    { id: 'dns-nxdomain-pass', yaml: dns('missing.test', { rcode: 'NXDOMAIN' }, ['[DNS_RCODE] == nxdomain']), succeeds: true, blackbox: { module: 'dns_missing_nx', target: `127.0.0.1:${t.dnsPort}` } },
    { id: 'dns-rcode-fail', yaml: dns('missing.test'), succeeds: false, blackbox: { module: 'dns_missing', target: `127.0.0.1:${t.dnsPort}` } },
    { id: 'dns-answer-fail', yaml: dns('ok.test', { answers: ['^10\\.'] }), succeeds: false, blackbox: { module: 'dns_ok_10', target: `127.0.0.1:${t.dnsPort}` } },
    { id: 'dns-txt-pass', yaml: dns('txt.test', { type: 'TXT' }, ['[BODY] == "vigil probe"']), succeeds: true },
    { id: 'dns-condition-fail', yaml: dns('ok.test', {}, ['[DNS_RCODE] == SERVFAIL']), succeeds: false },
    // gRPC health
    { id: 'grpc-pass', yaml: { grpc: { address: `127.0.0.1:${t.grpcPort}` }, conditions: ['[BODY] == SERVING'] }, succeeds: true, blackbox: { module: 'grpc', target: `127.0.0.1:${t.grpcPort}` } },
    { id: 'grpc-service-pass', yaml: { grpc: { address: `127.0.0.1:${t.grpcPort}`, service: 'api' } }, succeeds: true, blackbox: { module: 'grpc_api', target: `127.0.0.1:${t.grpcPort}` } },
    { id: 'grpc-not-serving', yaml: { grpc: { address: `127.0.0.1:${t.grpcPort}`, service: 'db' } }, succeeds: false, blackbox: { module: 'grpc_db', target: `127.0.0.1:${t.grpcPort}` } },
    { id: 'grpc-closed', yaml: { grpc: { address: `127.0.0.1:${t.closedPort}` }, timeout: '1s' }, succeeds: false, blackbox: { module: 'grpc', target: `127.0.0.1:${t.closedPort}` } },
  ];
}

/** blackbox_exporter modules equivalent to the probes above. */
function blackboxConfig(t: Targets): string {
  const ip4 = { preferred_ip_protocol: 'ip4' };
  const modules: Record<string, unknown> = {
    http_2xx: { prober: 'http', timeout: '3s', http: { ...ip4 } },
    http_1s: { prober: 'http', timeout: '1s', http: { ...ip4 } },
    http_404: { prober: 'http', timeout: '3s', http: { ...ip4, valid_status_codes: [404] } },
    http_201_204: { prober: 'http', timeout: '3s', http: { ...ip4, valid_status_codes: [201, 204] } },
    http_body_up: { prober: 'http', timeout: '3s', http: { ...ip4, fail_if_body_not_matches_regexp: ['"status":"UP"'] } },
    http_body_down: { prober: 'http', timeout: '3s', http: { ...ip4, fail_if_body_not_matches_regexp: ['"status":"DOWN"'] } },
    http_ca: { prober: 'http', timeout: '3s', http: { ...ip4, tls_config: { ca_file: t.pki.caFile } } },
    tcp_connect: { prober: 'tcp', timeout: '3s', tcp: { ...ip4 } },
    tcp_tls: { prober: 'tcp', timeout: '3s', tcp: { ...ip4, tls: true } },
    tcp_tls_ca: { prober: 'tcp', timeout: '3s', tcp: { ...ip4, tls: true, tls_config: { ca_file: t.pki.caFile } } },
    tcp_banner: { prober: 'tcp', timeout: '3s', tcp: { ...ip4, query_response: [{ send: 'ping' }, { expect: '^\\+OK' }] } },
    tcp_err_1s: { prober: 'tcp', timeout: '1s', tcp: { ...ip4, query_response: [{ expect: '^-ERR' }] } },
    dns_ok: { prober: 'dns', timeout: '3s', dns: { ...ip4, query_name: 'ok.test', query_type: 'A', validate_answer_rrs: { fail_if_none_matches_regexp: ['.*\t127\\.0\\.0\\.1$'] } } },
    dns_ok_10: { prober: 'dns', timeout: '3s', dns: { ...ip4, query_name: 'ok.test', query_type: 'A', validate_answer_rrs: { fail_if_none_matches_regexp: ['.*\t10\\..*'] } } },
    dns_missing: { prober: 'dns', timeout: '3s', dns: { ...ip4, query_name: 'missing.test', query_type: 'A' } },
    dns_missing_nx: { prober: 'dns', timeout: '3s', dns: { ...ip4, query_name: 'missing.test', query_type: 'A', valid_rcodes: ['NXDOMAIN'] } },
    grpc: { prober: 'grpc', timeout: '1s', grpc: { ...ip4, tls: false } },
    grpc_api: { prober: 'grpc', timeout: '3s', grpc: { ...ip4, tls: false, service: 'api' } },
    grpc_db: { prober: 'grpc', timeout: '3s', grpc: { ...ip4, tls: false, service: 'db' } },
  };
  return JSON.stringify({ modules });
}

/** Validates a YAML-shaped config the way `vigil check-config` does. */
function configFrom(raw: unknown): Config {
  const result = validateConfig(raw);
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

/** Uses the validated probes/slos/components of `doc` in a test daemon's config. */
function withProbes(doc: Record<string, unknown>): (config: Config) => void {
  const parsed = configFrom(doc);
  return (config) => {
    config.components = parsed.components;
    config.slos = parsed.slos;
    config.probes = parsed.probes;
  };
}

describe('probes against real targets', { timeout: 120_000 }, () => {
  let targets: Targets;
  let daemon: TestDaemon;
  let table: Case[];
  let blackbox: ChildProcess | null = null;
  let blackboxBase = '';
  let blackboxDir = '';

  before(async () => {
    targets = await startTargets();
    table = cases(targets);
    daemon = await startTestDaemon(withProbes({
      components: [{ id: 'checks' }],
      probes: table.map((c) => ({ id: c.id, component: 'checks', interval: '3s', timeout: '2s', ...c.yaml })),
    }));
    blackboxDir = mkdtempSync(join(tmpdir(), 'vigil-blackbox-'));
    writeFileSync(join(blackboxDir, 'blackbox.yml'), blackboxConfig(targets));
    const port = await freePort();
    blackboxBase = `http://127.0.0.1:${port}`;
    blackbox = spawn('prometheus-blackbox-exporter', [`--config.file=${join(blackboxDir, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    blackbox.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await pollUntil(`blackbox_exporter (${stderr.slice(-500)})`, 15_000, async () => ((await fetch(`${blackboxBase}/-/healthy`)).ok ? true : undefined));
  });

  after(async () => {
    await daemon?.stop();
    if (blackbox !== null) {
      blackbox.kill('SIGTERM');
      await new Promise((r) => blackbox!.once('exit', r));
    }
    if (blackboxDir !== '') rmSync(blackboxDir, { recursive: true, force: true });
    await targets?.stop();
  });

  async function firstResults(): Promise<Map<string, { successes: number; failures: number; lastError: string | null }>> {
    return pollUntil('a result from every probe', 20_000, async () => {
      const states = daemon.daemon.probes.states();
      return states.every((s) => s.successes + s.failures > 0) ? new Map(states.map((s) => [s.id, s])) : undefined;
    });
  }

  it('judges every condition kind, passing and failing, on its first run', async () => {
    const states = await firstResults();
    const wrong = table
      .filter((c) => (states.get(c.id)!.successes > 0) !== c.succeeds || (states.get(c.id)!.failures > 0) === c.succeeds)
      .map((c) => `${c.id}: expected ${c.succeeds ? 'success' : 'failure'}, got ${JSON.stringify(states.get(c.id))}`);
    assert.deepEqual(wrong, []);
    // Failures carry their reason.
    assert.equal(states.get('http-500')!.lastError, 'VIGIL_PROBE_STATUS');
    assert.equal(states.get('http-closed')!.lastError, 'VIGIL_PROBE_CONNECT');
    assert.equal(states.get('http-slow')!.lastError, 'VIGIL_PROBE_TIMEOUT');
    assert.equal(states.get('https-unknown-ca')!.lastError, 'VIGIL_PROBE_TLS');
    assert.equal(states.get('cert-fail')!.lastError, 'VIGIL_PROBE_CONDITION');
    assert.equal(states.get('dns-rcode-fail')!.lastError, 'VIGIL_PROBE_DNS');
    assert.equal(states.get('grpc-not-serving')!.lastError, 'VIGIL_PROBE_GRPC');
    assert.equal(states.get('tcp-expect-fail')!.lastError, 'VIGIL_PROBE_EXPECT');
  });

  it('exports blackbox_exporter names with probe and component labels, and the certificate expiry', async () => {
    await firstResults();
    const text = await scrape(daemon.metricsBase);
    const l = (id: string) => `{probe="${id}",component="checks"}`;
    assert.equal(sampleValue(text, `probe_success${l('http-ok')}`), 1);
    assert.equal(sampleValue(text, `probe_http_status_code${l('http-500')}`), 500);
    assert.equal(sampleValue(text, `probe_http_redirects${l('http-redirect')}`), 1);
    assert.ok(sampleValue(text, `probe_duration_seconds${l('http-ok')}`)! > 0);
    for (const phase of ['resolve', 'connect', 'tls', 'processing', 'transfer']) {
      assert.notEqual(sampleValue(text, `probe_http_duration_seconds{probe="https-ok",component="checks",phase="${phase}"}`), undefined, phase);
    }
    assert.ok(sampleValue(text, `probe_http_duration_seconds{probe="https-ok",component="checks",phase="tls"}`)! > 0);
    assert.equal(sampleValue(text, `probe_http_ssl${l('https-ok')}`), 1);
    assert.equal(sampleValue(text, `probe_ssl_earliest_cert_expiry${l('https-ok')}`), Math.floor(targets.pki.leafNotAfterMs / 1000));
    assert.equal(sampleValue(text, `probe_ssl_earliest_cert_expiry${l('tls-pass')}`), Math.floor(targets.pki.leafNotAfterMs / 1000));
    assert.equal(sampleValue(text, `probe_dns_answer_rrs${l('dns-pass')}`), 1);
    assert.equal(sampleValue(text, `probe_grpc_healthcheck_response{probe="grpc-not-serving",component="checks",serving_status="NOT_SERVING"}`), 1);
    assert.equal(sampleValue(text, `vigil_probe_results_total{probe="http-500",component="checks",result="success"}`), 0);
    assert.ok(sampleValue(text, `vigil_probe_results_total{probe="http-500",component="checks",result="failure"}`)! >= 1);
    assert.ok(sampleValue(text, `vigil_probe_failures_total{probe="http-slow",component="checks",reason="timeout"}`)! >= 1);
    assert.ok(sampleValue(text, `vigil_probe_duration_seconds_percentiles{probe="http-ok",component="checks",quantile="0.99",window="1m"}`)! > 0);
    assert.equal(sampleValue(text, 'vigil_probe_runs_skipped_total'), 0);
  });

  it('is valid exposition for promtool, in text and OpenMetrics', async () => {
    await firstResults();
    for (const accept of ['text/plain;version=0.0.4', 'application/openmetrics-text;version=1.0.0']) {
      const exposition = await scrape(daemon.metricsBase, accept);
      const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
      const lines = `${run.stdout}${run.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      assert.notEqual(run.status, 1, `promtool could not parse the ${accept} exposition: ${lines.join('; ')}`);
      // promtool reads OpenMetrics with its text parser, where a counter family `x` has HELP but its
      // sample `x_total` looks like another family: allowed when `x` is declared with HELP.
      const declaredWithHelp = (line: string) => {
        const family = /^(\S+)_total no help text$/.exec(line)?.[1];
        return family !== undefined && exposition.includes(`# HELP ${family} `);
      };
      assert.deepEqual(lines.filter((l) => /probe/.test(l) && !(accept.startsWith('application/openmetrics') && declaredWithHelp(l))), [], accept);
    }
  });

  it('agrees with prometheus-blackbox-exporter on probe_success and probe_http_status_code for every target', async () => {
    await firstResults();
    const ours = await scrape(daemon.metricsBase);
    const disagreements: string[] = [];
    let compared = 0;
    for (const c of table) {
      if (c.blackbox === undefined) continue;
      const res = await fetch(`${blackboxBase}/probe?module=${c.blackbox.module}&target=${encodeURIComponent(c.blackbox.target)}`);
      const theirs = await res.text();
      const l = `{probe="${c.id}",component="checks"}`;
      const pairs: [string, number | undefined, number | undefined][] = [['probe_success', sampleValue(ours, `probe_success${l}`), sampleValue(theirs, 'probe_success')]];
      if ('http' in c.yaml) pairs.push(['probe_http_status_code', sampleValue(ours, `probe_http_status_code${l}`), sampleValue(theirs, 'probe_http_status_code')]);
      for (const [name, vigil, bb] of pairs) {
        compared++;
        if (vigil === undefined || bb === undefined || vigil !== bb) disagreements.push(`${c.id} (${c.blackbox.module}): ${name} vigil=${vigil} blackbox=${bb}`);
      }
      assert.equal(sampleValue(ours, `probe_success${l}`), c.succeeds ? 1 : 0, c.id);
    }
    assert.deepEqual(disagreements, []);
    assert.ok(compared >= 25, `only ${compared} comparisons`);
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe('a target taken down and brought back', { timeout: 120_000 }, () => {
  let targets: Targets;
  let daemon: TestDaemon;
  let browser: BrowserContext | null = null;
  let profileDir = '';

  before(async () => {
    targets = await startTargets();
    daemon = await startTestDaemon(withProbes({
      components: [{ id: 'web', name: 'Web site' }],
      probes: [{ id: 'web-home', component: 'web', interval: '1s', timeout: '500ms', confirm: 3, http: { url: `http://127.0.0.1:${targets.http.port}/ok` } }],
      slos: [
        { id: 'web-availability', component: 'web', objective: 99, window: '30d', indicator: { availability: { probe: 'web-home' } } },
        { id: 'web-latency', component: 'web', objective: 90, window: '30d', indicator: { latency: { probe: 'web-home', threshold: '250ms' } } },
      ],
    }));
    if (existsSync(CHROMIUM)) {
      profileDir = mkdtempSync(join(tmpdir(), 'vigil-probe-page-'));
      // Debian's Chromium, never a downloaded browser.
      browser = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    }
  });

  after(async () => {
    await browser?.close();
    if (profileDir !== '') rmSync(profileDir, { recursive: true, force: true });
    await daemon?.stop();
    await targets?.stop();
  });

  /** The component's status as the page in Chromium shows it (data-status of its row); null without Chromium. */
  const pageStatus = async (): Promise<string | null> => {
    if (browser === null) return null;
    const page = await browser.newPage();
    try {
      await page.goto(`${daemon.statusBase}/`, { waitUntil: 'load' });
      return await page.locator('#component-web').getAttribute('data-status');
    } finally {
      await page.close();
    }
  };

  const state = () => daemon.daemon.probes.states()[0]!;
  const summaryStatus = async (): Promise<string> => {
    const summary = (await (await fetch(`${daemon.statusBase}/api/v2/summary.json`)).json()) as { components: { name: string; status: string }[] };
    return summary.components.find((c) => c.name === 'Web site')!.status;
  };
  /** Total and good events of an SLO over its 30d window, straight from the engine. */
  const counts = (slo: string) => {
    const report = daemon.daemon.slo.sloReport(slo)!;
    const w = report.windows.find((x) => x.window === '30d')!;
    return { good: w.good, total: w.total };
  };

  it('shows the component down only after `confirm` failures, up again after `confirm` successes, and counts every run', async () => {
    await pollUntil('the probe up', 10_000, async () => (state().confirmed === 'up' ? true : undefined));
    await pollUntil('summary.json operational', 10_000, async () => ((await summaryStatus()) === 'operational' ? true : undefined), 200);
    await targets.http.down();
    // One or two failures: not yet confirmed, so the component is still shown up.
    const firstFailure = await pollUntil('a first failure', 10_000, async () => (state().failures >= 1 ? state() : undefined), 20);
    assert.equal(firstFailure.confirmed, 'up', 'one failure must not flip the component');
    assert.equal(await summaryStatus(), 'operational');
    const down = await pollUntil('the probe confirmed down', 10_000, async () => (state().confirmed === 'down' ? state() : undefined), 20);
    assert.equal(down.failures, 3, 'down exactly at the third consecutive failure');
    await pollUntil('summary.json major_outage', 10_000, async () => ((await summaryStatus()) === 'major_outage' ? true : undefined), 200);
    const shownDown = await pageStatus();
    if (shownDown !== null) assert.equal(shownDown, 'major_outage', 'the page in Chromium shows the component down');

    await targets.http.up();
    const firstSuccess = await pollUntil('a first success after the outage', 10_000, async () => (state().successes > down.successes ? state() : undefined), 20);
    assert.equal(firstSuccess.confirmed, 'down', 'one success must not flip the component back');
    await pollUntil('the probe confirmed up', 10_000, async () => (state().confirmed === 'up' ? true : undefined), 20);
    await pollUntil('summary.json operational again', 10_000, async () => ((await summaryStatus()) === 'operational' ? true : undefined), 200);
    const shownUp = await pageStatus();
    if (shownUp !== null) assert.equal(shownUp, 'operational', 'the page in Chromium shows the component up again');

    // Every run is one SLI event, good or bad, whatever the confirmed state said at the time.
    const s = state();
    const availability = counts('web-availability');
    assert.ok(s.failures >= 3);
    // A run may finish between reading the states and the counts: allow that one.
    assert.ok(Math.abs(availability.total - (s.successes + s.failures)) <= 1, `SLI total ${availability.total} vs runs ${s.successes + s.failures}`);
    assert.ok(Math.abs(availability.total - availability.good - s.failures) <= 1, `SLI bad ${availability.total - availability.good} vs failures ${s.failures}`);
    const latency = counts('web-latency');
    assert.ok(Math.abs(latency.total - availability.total) <= 1);
    // Refused connections are fast: the latency SLI judges durations only (as for spans).
    assert.ok(latency.good >= availability.good);
    // The alerts are computed from the counts: the 5m window saw the outage.
    const text = await scrape(daemon.metricsBase);
    assert.equal(sampleValue(text, 'vigil_probe_confirmed_up{probe="web-home",component="web"}'), 1);
    assert.ok(sampleValue(text, 'vigil_slo_sli_ratio{slo="web-availability",component="web",window="5m"}')! < 1);
  });
});

describe('an automatic incident for a probe confirmed down', { timeout: 90_000 }, () => {
  const target = new FlakyHttp();
  let daemon: TestDaemon;

  before(async () => {
    await target.up();
    daemon = await startTestDaemon((config) => {
      withProbes({
        components: [{ id: 'shop', name: 'Shop' }],
        // No SLO: the confirmed state alone shows the component down and opens the incident.
        probes: [{ id: 'shop-home', component: 'shop', interval: '1s', timeout: '500ms', confirm: 2, http: { url: `http://127.0.0.1:${target.port}/ok` } }],
      })(config);
      config.status.adminTokens = [TEST_TOKEN];
      config.status.refreshIntervalMs = 300;
      config.status.autoIncidents = { ...config.status.autoIncidents, enabled: true, publish: false, resolveAfterMs: 1500 };
    });
  });
  after(async () => {
    await daemon?.stop();
    await target.down();
  });

  const summary = async () => (await (await fetch(`${daemon.statusBase}/api/v2/summary.json`)).json()) as { components: { name: string; status: string }[]; incidents: { id: string; name: string; status: string }[] };

  it('opens a draft naming the probe, which an operator publishes, and resolves it once the probe is up again', async () => {
    await pollUntil('the probe up', 10_000, async () => (daemon.daemon.probes.states()[0]!.confirmed === 'up' ? true : undefined));
    await target.down();
    const draft = await pollUntil('a draft incident', 15_000, async () => {
      const { json } = await admin(daemon.statusBase, 'GET', '/api/admin/incidents/drafts');
      return (json['incidents'] as { id: string; name: string; auto_component?: string; incident_updates: { body: string }[] }[]).find((i) => i.auto_component === 'shop');
    }, 200);
    assert.match(JSON.stringify(draft), /probe shop-home/);
    assert.equal((await summary()).components.find((c) => c.name === 'Shop')!.status, 'major_outage', 'a probe without SLOs still shows its component down');
    assert.deepEqual((await summary()).incidents, [], 'a draft is not public');
    const published = await admin(daemon.statusBase, 'POST', `/api/admin/incidents/${draft.id}/publish`);
    assert.equal(published.status, 200);
    await pollUntil('the published incident on summary.json', 10_000, async () => ((await summary()).incidents.some((i) => i.id === draft.id) ? true : undefined), 200);
    await target.up();
    await pollUntil('the incident resolved by itself', 20_000, async () => ((await summary()).incidents.length === 0 ? true : undefined), 300);
    assert.equal((await summary()).components.find((c) => c.name === 'Shop')!.status, 'operational');
  });
});

describe('probe config errors', () => {
  it('names the key path and what was expected for every bad probe and condition', () => {
    const doc = parse(`
components: [{ id: api }]
probes:
  - { id: 'bad id!', component: api, http: { url: 'http://x/' } }
  - { id: p1, component: api, interval: 500ms, http: { url: 'http://x/' } }
  - { id: p2, component: api, interval: 10s, timeout: 20s, http: { url: 'http://x/' } }
  - { id: p3, component: api, confirm: 0, http: { url: 'http://x/' } }
  - { id: p4, component: api }
  - { id: p5, component: api, http: { url: 'http://x/' }, tcp: { address: 'x:1' } }
  - { id: p6, component: api, http: { url: 'ftp://x/', method: FETCH, headers: { 'bad header': x }, body: 5, follow_redirects: maybe, tls: { ca_file: /nonexistent/ca.pem, insecure_skip_verify: 1, other: 1 } } }
  - { id: p7, component: api, tcp: { address: 'nohostport', tls: { ca_file: 5 }, expect: '(' } }
  - { id: p8, component: api, tls: { address: '127.0.0.1:99999' } }
  - { id: p9, component: api, dns: { server: 'dns.example:53', name: 'a..b', type: BOGUS, rcode: OK, answers: ['['] } }
  - { id: p10, component: api, grpc: { address: '[::1]', service: 5 } }
  - { id: p11, component: api, unknown: 1, http: { url: 'http://x/' } }
  - id: p12
    component: api
    http: { url: 'http://x/' }
    conditions:
      - 'STATUS == 200'
      - '[NOPE] == 1'
      - '[DNS_RCODE] == NOERROR'
      - '[STATUS] == "two hundred"'
      - '[RESPONSE_TIME] < 300'
      - '[CERTIFICATE_EXPIRATION] > 7'
      - '[CONNECTED] == yes'
      - '[HEADER] == x'
      - '[STATUS] <'
      - '[BODY] < contains(x)'
      - '[BODY].a == /(/'
      - '[BODY] == nope(1)'
      - '[STATUS] == any()'
      - 'len([BODY]) > 5 apples'
      - '[IP] > 1'
      - 5
  - { id: p13, component: api, dns: { server: '127.0.0.1', name: x.test }, conditions: ['[DNS_RCODE] == MAYBE', '[STATUS] == 200'] }
`);
    const result = validateConfig(doc);
    assert.ok('errors' in result);
    const expected = [
      /^probes\[0\]\.id: must be an id of letters/,
      /^probes\[1\]\.interval: must be a duration from 1s/,
      /^probes\[2\]\.timeout: must not exceed interval \(20s > 10s\)/,
      /^probes\[3\]\.confirm: must be an integer from 1 to 100 \(got 0\)/,
      /^probes\[4\]: must have exactly one of http, tcp, tls, dns, grpc \(got none\)/,
      /^probes\[5\]: must have exactly one of http, tcp, tls, dns, grpc \(got http and tcp\)/,
      /^probes\[6\]\.http\.url: must be an http:\/\/ or https:\/\/ URL/,
      /^probes\[6\]\.http\.method: must be one of GET/,
      /^probes\[6\]\.http\.headers\.bad header: is not a valid header name/,
      /^probes\[6\]\.http\.body: must be a string or null \(got 5\)/,
      /^probes\[6\]\.http\.follow_redirects: must be true or false/,
      /^'probes\[6\]\.http\.tls' has invalid key: other/,
      /^probes\[6\]\.http\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
      /^probes\[6\]\.http\.tls\.insecure_skip_verify: must be true or false/,
      /^probes\[7\]\.tcp\.address: must be host:port/,
      /^probes\[7\]\.tcp\.tls\.ca_file: must be a file path \(got 5\)/,
      /^probes\[7\]\.tcp\.expect: is not a valid regular expression/,
      /^probes\[8\]\.tls\.address: must be host:port/,
      /^probes\[9\]\.dns\.server: must be an IP address/,
      /^probes\[9\]\.dns\.name: must be a domain name of labels/,
      /^probes\[9\]\.dns\.type: must be one of A, NS/,
      /^probes\[9\]\.dns\.rcode: must be one of NOERROR/,
      /^probes\[9\]\.dns\.answers\[0\]: is not a valid regular expression/,
      /^probes\[10\]\.grpc\.address: must be host:port/,
      /^probes\[10\]\.grpc\.service: must be a service name/,
      /^'probes\[11\]' has invalid key: unknown/,
      /^probes\[12\]\.conditions\[0\]: must be '\[PLACEHOLDER\] <op> <value>'/,
      /^probes\[12\]\.conditions\[1\]: unknown placeholder \[NOPE\]; expected one of \[STATUS\]/,
      /^probes\[12\]\.conditions\[2\]: \[DNS_RCODE\] is not available for http probes \(only dns\)/,
      /^probes\[12\]\.conditions\[3\]: \[STATUS\] == expects a number such as 200 \(got the string "two hundred"\)/,
      /^probes\[12\]\.conditions\[4\]: \[RESPONSE_TIME\] < expects a duration such as 300ms, 10s or 7d \(got the number 300\)/,
      /^probes\[12\]\.conditions\[5\]: \[CERTIFICATE_EXPIRATION\] > expects a duration/,
      /^probes\[12\]\.conditions\[6\]: \[CONNECTED\] == expects true or false \(got the string "yes"\)/,
      /^probes\[12\]\.conditions\[7\]: \[HEADER\] needs a header name, e\.g\. \[HEADER\]\.content-type/,
      /^probes\[12\]\.conditions\[8\]: a value is missing after </,
      /^probes\[12\]\.conditions\[9\]: \[BODY\] < expects a number such as 200; any\(\), contains\(\) and \/regex\/ work only with == and !=/,
      /^probes\[12\]\.conditions\[10\]: invalid regular expression \/\(\//,
      /^probes\[12\]\.conditions\[11\]: unknown function in "nope\(1\)"; expected any\(\.\.\.\) or contains\(\.\.\.\)/,
      /^probes\[12\]\.conditions\[12\]: any\(\.\.\.\) needs one or more values/,
      /^probes\[12\]\.conditions\[13\]: a value with spaces must be quoted/,
      /^probes\[12\]\.conditions\[14\]: \[IP\] > expects == or != for \[IP\], not >/,
      /^probes\[12\]\.conditions\[15\]: must be a condition string/,
      /^probes\[13\]\.conditions\[0\]: \[DNS_RCODE\] == expects a DNS rcode \(NOERROR, FORMERR/,
      /^probes\[13\]\.conditions\[1\]: \[STATUS\] is not available for dns probes \(only http\)/,
    ];
    const missing = expected.filter((re) => !result.errors.some((e) => re.test(e))).map(String);
    assert.deepEqual(missing, [], `errors were:\n${result.errors.join('\n')}`);
    assert.equal(result.errors.length, expected.length, `errors were:\n${result.errors.join('\n')}`);
  });

  it('checks across sections: unique ids, known components, SLOs naming a known probe', () => {
    const result = validateConfig(parse(`
components: [{ id: api }]
probes:
  - { id: p, component: api, http: { url: 'http://x/' } }
  - { id: p, component: web, tcp: { address: 'x:1' } }
slos:
  - { id: a, component: api, objective: 99, window: 30d, indicator: { availability: { probe: nope } } }
  - { id: b, component: api, objective: 99, window: 30d, indicator: { latency: { probe: p } } }
  - { id: c, component: api, objective: 99, window: 30d, indicator: { availability: { probe: p, spans: { service: x } } } }
`));
    assert.ok('errors' in result);
    assert.deepEqual(result.errors.sort(), [
      'slos[1].indicator.latency.threshold: must be a positive duration such as 250ms or 1s (got undefined)',
      'slos[2].indicator.availability: must have exactly one of spans, metric, probe, heartbeat (got spans and probe)',
    ]);
    const second = validateConfig(parse(`
components: [{ id: api }]
probes:
  - { id: p, component: api, http: { url: 'http://x/' } }
  - { id: p, component: web, tcp: { address: 'x:1' } }
slos:
  - { id: a, component: api, objective: 99, window: 30d, indicator: { availability: { probe: nope } } }
  - { id: b, component: api, objective: 99, window: 30d, indicator: { latency: { probe: p, threshold: 300ms } } }
`));
    assert.ok('errors' in second);
    assert.deepEqual(second.errors.sort(), [
      'probes[1].component: no component with id "web" (defined: api)',
      'probes[1].id: "p" is already used by probes[0]',
      'slos[0].indicator.availability.probe: no probe with id "nope" (defined: p, p)',
    ]);
  });

  it('fails `vigil check-config` with exit 2 and the key path of a bad condition', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-probe-config-'));
    try {
      const file = join(dir, 'vigil.yaml');
      writeFileSync(file, "components: [{ id: api }]\nprobes:\n  - { id: p, component: api, http: { url: 'http://127.0.0.1:1/' }, conditions: ['[RESPONSE_TIME] < 300'] }\n");
      const run = spawnSync(process.execPath, [new URL('../../../bin/vigil.js', import.meta.url).pathname, 'check-config', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.status, 2);
      assert.match(run.stderr, /probes\[0\]\.conditions\[0\]: \[RESPONSE_TIME\] < expects a duration such as 300ms/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts the README example and fills the defaults', () => {
    const result = validateConfig(parse(`
components: [{ id: api }]
probes:
  - id: api-health
    component: api
    http: { url: 'https://api.example.com/health' }
`));
    assert.ok('config' in result, 'errors' in result ? result.errors.join('\n') : '');
    const p = result.config.probes[0]!;
    assert.equal(p.intervalMs, 60_000);
    assert.equal(p.timeoutMs, 10_000);
    assert.equal(p.confirm, 2);
    assert.deepEqual(p.target, { kind: 'http', url: 'https://api.example.com/health', method: 'GET', headers: {}, body: null, followRedirects: true, tls: { caFile: null, insecureSkipVerify: false, serverName: null } });
    const short = validateConfig(parse(`
components: [{ id: api }]
probes: [{ id: q, component: api, interval: 2s, tcp: { address: 'localhost:22' } }]
`));
    assert.ok('config' in short);
    assert.equal(short.config.probes[0]!.timeoutMs, 2000, 'the default timeout shrinks to the interval');
  });
});
