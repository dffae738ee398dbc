// `alerting:` and `slo.source:` validation: defaults, every problem reported with its key path at
// once, unknown keys rejected.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from './index.js';

function errors(raw: unknown): string[] {
  const result = validateConfig(raw);
  return 'errors' in result ? result.errors : [];
}

describe('alerting', () => {
  test('absent: no Alertmanager, resend every minute', () => {
    const result = validateConfig({});
    assert.ok('config' in result);
    assert.deepEqual(result.config.alerting, { alertmanagers: [], resendIntervalMs: 60_000, evaluateIntervalMs: 5_000, statusUrl: null });
  });

  test('a full entry is normalised', () => {
    const result = validateConfig({
      alerting: { resend_interval: '30s', status_url: 'https://status.example.com/', alertmanagers: [{ url: 'http://am:9093/', headers: { 'X-Scope-OrgID': 'a' }, bearer_token: 't', timeout: '2s', tls: { insecure_skip_verify: true } }] },
    });
    assert.ok('config' in result, JSON.stringify(result));
    assert.deepEqual(result.config.alerting, {
      alertmanagers: [{ url: 'http://am:9093', headers: { 'X-Scope-OrgID': 'a' }, bearerToken: 't', timeoutMs: 2000, tls: { caFile: null, certFile: null, keyFile: null, insecureSkipVerify: true } }],
      resendIntervalMs: 30_000,
      evaluateIntervalMs: 5_000,
      statusUrl: 'https://status.example.com',
    });
  });

  test('every problem at once, with its key path', () => {
    const found = errors({
      alerting: {
        resend_interval: 'often',
        alertmanagers: [{ url: 'ftp://am' }, { url: 'http://am:9093', timeout: '5m', headers: { 'bad header': 'x' }, tls: { ca_file: '/nonexistent/ca.pem', cert_file: '/nonexistent/c.pem' } }, 'http://am'],
      },
    });
    for (const expected of [
      /^alerting\.resend_interval: must be a duration from 1s to 1h/,
      /^alerting\.alertmanagers\[0\]\.url: must be an http:\/\/ or https:\/\/ URL \(got "ftp:\/\/am"\)/,
      /^alerting\.alertmanagers\[1\]\.timeout: must be a duration up to 1m/,
      /^alerting\.alertmanagers\[1\]\.headers: has an invalid header name: "bad header"/,
      /^alerting\.alertmanagers\[1\]\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
      /^alerting\.alertmanagers\[1\]\.tls: cert_file and key_file go together/,
      /^alerting\.alertmanagers\[2\]: must be a mapping with url/,
    ]) {
      assert.ok(found.some((e) => expected.test(e)), `${expected} in:\n${found.join('\n')}`);
    }
  });

  test('unknown keys are rejected', () => {
    const found = errors({ alerting: { alertmanager: [] } });
    assert.ok(found.some((e) => /has invalid key: alertmanager/.test(e)), found.join('\n'));
  });
});

describe('slo.source', () => {
  test('absent: local ingest', () => {
    const result = validateConfig({});
    assert.ok('config' in result);
    assert.equal(result.config.slo.source, null);
  });

  test('prometheus with defaults', () => {
    const result = validateConfig({ slo: { source: { prometheus: { url: 'http://prometheus:9090/' } } } });
    assert.ok('config' in result, JSON.stringify(result));
    assert.deepEqual(result.config.slo.source, { kind: 'prometheus', url: 'http://prometheus:9090', headers: {}, bearerToken: null, intervalMs: 60_000, timeoutMs: 10_000, backfillMs: null });
  });

  test('every problem at once, with its key path; unknown keys rejected', () => {
    const found = errors({ slo: { source: { prometheus: { url: 'prometheus:9090', interval: '0s', backfill: '1y', query: 'x' } } } });
    for (const expected of [
      /^slo\.source\.prometheus\.url: must be an http:\/\/ or https:\/\/ URL/,
      /^slo\.source\.prometheus\.interval: must be a duration from 1s to 1h/,
      /^slo\.source\.prometheus\.backfill: must be a duration from 1m to 92d/,
      /^'slo\.source\.prometheus' has invalid key: query/,
    ]) {
      assert.ok(found.some((e) => expected.test(e)), `${expected} in:\n${found.join('\n')}`);
    }
    assert.ok(errors({ slo: { source: { thanos: {} } } }).some((e) => /has invalid key: thanos/.test(e)));
  });
});
