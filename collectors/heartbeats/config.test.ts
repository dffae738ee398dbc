// Config errors of heartbeats: every bad entry reported at once, each with its key path, and the
// secret itself never echoed back.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';

function errorsOf(yaml: string): string[] {
  const result = validateConfig(parse(yaml));
  assert.ok('errors' in result, 'the config is rejected');
  return result.errors;
}

describe('heartbeats config', () => {
  it('accepts a cron and an every heartbeat, with defaults (grace 1h, max_runtime = grace, zone = slo.timezone)', () => {
    process.env['VIGIL_TEST_PING_KEY'] = 'from-the-environment-0123';
    const result = validateConfig(
      parse(`
slo: { timezone: Europe/Berlin }
components: [{ id: backups }]
heartbeats:
  - { id: nightly, component: backups, key_env: VIGIL_TEST_PING_KEY, schedule: { cron: '0 3 * * *' }, grace: 30m, max_runtime: 2h }
  - { id: hourly, component: backups, key: hourly-key-0123456789, schedule: { every: 1h } }
`),
    );
    assert.ok('config' in result, 'errors' in result ? result.errors.join('\n') : '');
    assert.deepEqual(result.config.heartbeats, [
      { id: 'nightly', component: 'backups', key: 'from-the-environment-0123', schedule: { kind: 'cron', cron: '0 3 * * *', timezone: 'Europe/Berlin' }, graceMs: 1_800_000, maxRuntimeMs: 7_200_000 },
      { id: 'hourly', component: 'backups', key: 'hourly-key-0123456789', schedule: { kind: 'every', everyMs: 3_600_000 }, graceMs: 3_600_000, maxRuntimeMs: 3_600_000 },
    ]);
  });

  it('reports every bad heartbeat with its key path', () => {
    delete process.env['VIGIL_TEST_UNSET_KEY'];
    const errors = errorsOf(`
components: [{ id: backups }]
heartbeats:
  - { id: a, component: backups, key: short, schedule: { cron: '0 3 * * *' } }
  - { id: b, component: nowhere, key: b-key-0123456789abc, schedule: { cron: '61 3 * * *' } }
  - { id: c, component: backups, key_env: VIGIL_TEST_UNSET_KEY, schedule: { every: 30s } }
  - { id: d, component: backups, key: d-key-0123456789abc, key_env: X, schedule: { every: 1h } }
  - { id: e, component: backups, key: e-key-0123456789abc, schedule: { cron: '0 3 * * *', timezone: Mars/Olympus } }
  - { id: f, component: backups, key: f-key-0123456789abc, schedule: { cron: '0 3 * * *', every: 1h } }
  - { id: g, component: backups, key: g-key-0123456789abc, schedule: { every: 1h }, grace: soon, max_runtime: 0s, retries: 3 }
  - { id: h, component: backups, key: h-key-0123456789abc }
  - { id: i, component: backups, key: i-key-0123456789abc, schedule: { cron: '0 3 * * * *' } }
  - { id: a, component: backups, key: b-key-0123456789abc, schedule: { every: 1h, timezone: UTC } }
`);
    const expected = [
      'heartbeats[0].key: must be at least 16 characters of letters, digits, \'-\', \'_\', \'.\' or \'~\' (at most 128) (got 5 characters)',
      /^heartbeats\[1\]\.schedule\.cron: must be a five-field cron expression .*minute: 61/,
      'heartbeats[2].key_env: the environment variable VIGIL_TEST_UNSET_KEY is not set',
      'heartbeats[2].schedule.every: must be a duration of at least 1m such as 15m or 1h (got "30s")',
      'heartbeats[3].key: give key or key_env, not both',
      'heartbeats[4].schedule.timezone: must be an IANA time zone such as UTC or Europe/Berlin (got "Mars/Olympus")',
      'heartbeats[5].schedule: must have exactly one of cron or every (got both)',
      "'heartbeats[6]' has invalid key: retries",
      'heartbeats[6].grace: must be a positive duration such as 30m or 2h (got "soon")',
      'heartbeats[6].max_runtime: must be a positive duration such as 30m or 2h (got "0s")',
      "heartbeats[7].schedule: is required: must be { cron: '0 3 * * *', timezone: Europe/Berlin } or { every: 1h }",
      /^heartbeats\[8\]\.schedule\.cron: must be a five-field cron expression/,
      'heartbeats[9].schedule.timezone: applies to cron only',
    ];
    for (const e of expected) assert.ok(errors.some((x) => (typeof e === 'string' ? x === e : e.test(x))), `missing ${String(e)} in:\n${errors.join('\n')}`);
    assert.equal(errors.length, expected.length, errors.join('\n'));
    assert.ok(!errors.some((x) => x.includes('short')), 'a secret is never echoed');
  });

  it('checks across entries: unique ids and keys, components and SLO heartbeats that exist', () => {
    const errors = errorsOf(`
components: [{ id: backups }]
heartbeats:
  - { id: a, component: backups, key: same-key-0123456789, schedule: { every: 1h } }
  - { id: a, component: ghost, key: same-key-0123456789, schedule: { every: 1h } }
slos:
  - { id: s, component: backups, objective: 99, window: 30d, indicator: { availability: { heartbeat: nope } } }
  - { id: t, component: backups, objective: 99, window: 30d, indicator: { availability: { heartbeat: a, spans: { service: x } } } }
  - { id: u, component: backups, objective: 99, window: 30d, indicator: { latency: { heartbeat: a, threshold: 1s } } }
`);
    assert.deepEqual(errors.sort(), [
      "'slos[2].indicator.latency' has invalid key: heartbeat",
      'slos[1].indicator.availability: must have exactly one of spans, metric, probe, heartbeat (got spans and heartbeat)',
      'slos[2].indicator.latency: must have exactly one of spans, metric, probe (got none)',
    ].sort());
    const cross = errorsOf(`
components: [{ id: backups }]
heartbeats:
  - { id: a, component: backups, key: same-key-0123456789, schedule: { every: 1h } }
  - { id: a, component: ghost, key: same-key-0123456789, schedule: { every: 1h } }
slos:
  - { id: s, component: backups, objective: 99, window: 30d, indicator: { availability: { heartbeat: nope } } }
`);
    assert.deepEqual(cross, [
      'heartbeats[1].id: "a" is already used by heartbeats[0]',
      'heartbeats[1].key: the same key as heartbeats[0] (each heartbeat needs its own ping URL)',
      'heartbeats[1].component: no component with id "ghost" (defined: backups)',
      'slos[0].indicator.availability.heartbeat: no heartbeat with id "nope" (defined: a, a)',
    ]);
  });

  it('validates status.auto_incidents and status.ping_rate_limit', () => {
    const errors = errorsOf(`
status:
  auto_incidents: { enabled: yes, publish: 1, resolve_after: never, extra: 1 }
  ping_rate_limit: { requests_per_second: 0, burst: 1.5, unknown_keys_per_minute: -1, unknown_key_burst: 0, max_clients: x }
`);
    assert.deepEqual(errors.sort(), [
      "'status.auto_incidents' has invalid key: extra",
      'status.auto_incidents.enabled: must be true or false (got "yes")',
      'status.auto_incidents.publish: must be true or false (got 1)',
      'status.auto_incidents.resolve_after: must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got "never")',
      'status.ping_rate_limit.burst: must be a positive integer (got 1.5)',
      'status.ping_rate_limit.max_clients: must be a positive integer (got "x")',
      'status.ping_rate_limit.requests_per_second: must be a positive number (got 0)',
      'status.ping_rate_limit.unknown_key_burst: must be a positive integer (got 0)',
      'status.ping_rate_limit.unknown_keys_per_minute: must be a positive number (got -1)',
    ].sort());
  });
});
