// The condition language on hand-made outcomes: every placeholder, operator and literal kind,
// holding and not holding, and the parse errors that name what was expected.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConditionSyntaxError, evaluate, parseCondition } from './conditions.js';
import { judge } from './collector.js';
import { emptyOutcome } from './types.js';
import type { ProbeConfig, ProbeKind, ProbeOutcome } from './types.js';

const NOW = Date.parse('2026-12-03T00:00:00Z');

function outcome(patch: Partial<ProbeOutcome> = {}): ProbeOutcome {
  return {
    ...emptyOutcome(),
    connected: true,
    durationSeconds: 0.120,
    finishedAtMs: NOW,
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-version': '1.2.3' },
    body: JSON.stringify({ status: 'UP', data: [{ id: 7, name: 'first' }, { id: 8 }], ok: true, count: '12' }),
    ip: '127.0.0.1',
    certExpiryMs: NOW + 3 * 86_400_000,
    ...patch,
  };
}

function holds(text: string, o: ProbeOutcome = outcome(), kind: ProbeKind = 'http'): boolean {
  return evaluate(parseCondition(text, kind), o);
}

describe('conditions', () => {
  const table: [string, boolean, ProbeKind?, Partial<ProbeOutcome>?][] = [
    ['[STATUS] == 200', true],
    ['[STATUS] != 200', false],
    ['[STATUS] < 300', true],
    ['[STATUS] >= 500', false],
    ['[STATUS] == any(200, 204)', true],
    ['[STATUS] == any(201, 204)', false],
    ['[STATUS] == /^2..$/', true],
    ['[RESPONSE_TIME] < 300ms', true],
    ['[RESPONSE_TIME] <= 120ms', true],
    ['[RESPONSE_TIME] > 1s', false],
    ['[RESPONSE_TIME] < 1m30s', true],
    ['[BODY].status == UP', true],
    ['[BODY].status == "UP"', true],
    ['[BODY].status == DOWN', false],
    ['[BODY].data[0].id == 7', true],
    ['[BODY].data[1].id > 7', true],
    ['[BODY].data[0].name == /^fir/', true],
    ['[BODY].data[0].name == /^FIR/i', true],
    ['[BODY].data[0].name != /^x/', true],
    ['[BODY].ok == true', true],
    ['[BODY].count > 10', true],
    ['[BODY].missing == x', false],
    ['[BODY].missing != x', true],
    ['[BODY].data[5].id == 1', false],
    ['[BODY] == contains("status")', true],
    ['[BODY] == contains(DOWN)', false],
    ['[BODY] != contains(DOWN)', true],
    ['len([BODY].data) == 2', true],
    ['len([BODY]) < 1KB', true],
    ['len([BODY]) > 1KiB', false],
    ['len([BODY].data[0]) == 2', true],
    ['[HEADER].x-version == 1.2.3', true],
    ['[HEADER].Content-Type == contains(json)', true],
    ['[HEADER].content-type == contains(xml)', false],
    ['[HEADER].x-missing != anything', true],
    ['[CERTIFICATE_EXPIRATION] > 2d', true],
    ['[CERTIFICATE_EXPIRATION] > 7d', false],
    ['[CONNECTED] == true', true],
    ['[CONNECTED] == false', true, 'tcp', { connected: false }],
    ['[CONNECTED] == true', false, 'tcp', { connected: false }],
    ['[IP] == 127.0.0.1', true],
    ['[IP] == any(10.0.0.1, ::1)', false],
    ['[DNS_RCODE] == NOERROR', true, 'dns', { dnsRcode: 'NOERROR' }],
    ['[DNS_RCODE] == nxdomain', true, 'dns', { dnsRcode: 'NXDOMAIN' }],
    ['[DNS_RCODE] != NOERROR', true, 'dns', { dnsRcode: 'SERVFAIL' }],
    ['[BODY] == "vigil probe"', true, 'dns', { body: 'vigil probe' }],
    ['[BODY] == SERVING', true, 'grpc', { body: 'SERVING' }],
  ];
  for (const [text, expected, kind, patch] of table) {
    it(`${text} ${expected ? 'holds' : 'does not hold'}${kind ? ` (${kind})` : ''}`, () => {
      assert.equal(holds(text, outcome(patch), kind ?? 'http'), expected);
    });
  }

  it('rejects what it cannot mean, saying what was expected', () => {
    const bad: [string, RegExp, ProbeKind?][] = [
      ['[STATUS] == "ok"', /expects a number such as 200/],
      ['[RESPONSE_TIME] < 300', /expects a duration such as 300ms/],
      ['[RESPONSE_TIME] < 1KB', /expects a duration/],
      ['[CONNECTED] == 1', /expects true or false/],
      ['[DNS_RCODE] == OK', /expects a DNS rcode/, 'dns'],
      ['[BODY] > contains(x)', /work only with == and !=/],
      ['[HEADER].x-a > 5', /expects == or != for \[HEADER\]/],
      ['[STATUS].x == 1', /takes no path/],
      ['[STATUS] = 200', /must be '\[PLACEHOLDER\] <op> <value>'/],
      ['[STATUS] == contains(1, 2)', /contains\(\.\.\.\) takes exactly one value/],
      ['[STATUS] == any(1, any(2))', /any\(\.\.\.\) takes plain values/],
      ['[BODY] == "unterminated', /unterminated string/],
      ['len([BODY] == 1', /unbalanced parenthesis/],
      ['[STATUS] == 200', /not available for tcp probes/, 'tcp'],
      ['[CERTIFICATE_EXPIRATION] > 7d', /not available for grpc probes/, 'grpc'],
    ];
    for (const [text, message, kind] of bad) {
      assert.throws(() => parseCondition(text, kind ?? 'http'), (err: unknown) => err instanceof ConditionSyntaxError && message.test(err.message), text);
    }
  });

  it('never evaluates code: a condition that looks like JavaScript is a bare string', () => {
    const c = parseCondition('[BODY].status == process.exit(1)', 'http');
    assert.equal(evaluate(c, outcome()), false);
  });
});

describe('judge', () => {
  const probe = (kind: ProbeKind, conditions: string[]): ProbeConfig => ({
    id: 'p', component: 'c', intervalMs: 1000, timeoutMs: 1000, confirm: 2, conditions: conditions.map((c) => parseCondition(c, kind)),
    target: kind === 'http'
      ? { kind, url: 'http://x/', method: 'GET', headers: {}, body: null, followRedirects: true, tls: { caFile: null, insecureSkipVerify: false, serverName: null } }
      : { kind: 'tcp', host: 'x', port: 1, tls: null, send: null, expect: null },
  });

  it('without conditions, an HTTP 2xx or 3xx is success and anything else is VIGIL_PROBE_STATUS', () => {
    assert.equal(judge(probe('http', []), outcome({ status: 204 })), null);
    assert.equal(judge(probe('http', []), outcome({ status: 302 })), null);
    assert.equal(judge(probe('http', []), outcome({ status: 404 })), 'VIGIL_PROBE_STATUS');
  });

  it('conditions replace the status rule; errors fail the run unless [CONNECTED] judges an unreachable target', () => {
    assert.equal(judge(probe('http', ['[STATUS] == 404']), outcome({ status: 404 })), null);
    assert.equal(judge(probe('http', ['[STATUS] == 200']), outcome({ status: 404 })), 'VIGIL_PROBE_CONDITION');
    const refused = outcome({ connected: false, error: 'VIGIL_PROBE_CONNECT', status: 0 });
    assert.equal(judge(probe('tcp', []), refused), 'VIGIL_PROBE_CONNECT');
    assert.equal(judge(probe('tcp', ['[CONNECTED] == false']), refused), null);
    assert.equal(judge(probe('tcp', ['[RESPONSE_TIME] < 1s']), refused), 'VIGIL_PROBE_CONNECT');
    // A kind's own check (here tcp expect) always applies.
    assert.equal(judge(probe('tcp', ['[CONNECTED] == true']), outcome({ error: 'VIGIL_PROBE_EXPECT' })), 'VIGIL_PROBE_EXPECT');
  });
});
