import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RESERVED_LABELS, escapeHelp, escapeLabelValue, familyName, formatValue, labelSet, labelText } from './naming.js';

type Type = 'counter' | 'gauge' | 'histogram' | 'summary';

describe('familyName', () => {
  // [otlp name, otlp unit, type, expected name, expected unit]
  const cases: Array<[string, string, Type, string, string]> = [
    // Unit words (abbreviations to full words).
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds', 'seconds'],
    ['rpc.server.duration', 'ms', 'histogram', 'rpc_server_duration_milliseconds', 'milliseconds'],
    ['gc.pause', 'us', 'histogram', 'gc_pause_microseconds', 'microseconds'],
    ['op.latency', 'ns', 'summary', 'op_latency_nanoseconds', 'nanoseconds'],
    ['uptime', 'min', 'gauge', 'uptime_minutes', 'minutes'],
    ['uptime', 'h', 'gauge', 'uptime_hours', 'hours'],
    ['cert.validity', 'd', 'gauge', 'cert_validity_days', 'days'],
    ['process.memory.usage', 'By', 'gauge', 'process_memory_usage_bytes', 'bytes'],
    ['heap', 'KiBy', 'gauge', 'heap_kibibytes', 'kibibytes'],
    ['heap', 'MiBy', 'gauge', 'heap_mebibytes', 'mebibytes'],
    ['heap', 'GiBy', 'gauge', 'heap_gibibytes', 'gibibytes'],
    ['disk', 'TiBy', 'gauge', 'disk_tebibytes', 'tebibytes'],
    ['disk', 'KBy', 'gauge', 'disk_kilobytes', 'kilobytes'],
    ['disk', 'MBy', 'gauge', 'disk_megabytes', 'megabytes'],
    ['disk', 'GBy', 'gauge', 'disk_gigabytes', 'gigabytes'],
    ['disk', 'TBy', 'gauge', 'disk_terabytes', 'terabytes'],
    ['distance', 'm', 'gauge', 'distance_meters', 'meters'],
    ['supply', 'V', 'gauge', 'supply_volts', 'volts'],
    ['draw', 'A', 'gauge', 'draw_amperes', 'amperes'],
    ['energy', 'J', 'counter', 'energy_joules', 'joules'],
    ['power', 'W', 'gauge', 'power_watts', 'watts'],
    ['mass', 'g', 'gauge', 'mass_grams', 'grams'],
    ['hw.temperature', 'Cel', 'gauge', 'hw_temperature_celsius', 'celsius'],
    ['cpu.frequency', 'Hz', 'gauge', 'cpu_frequency_hertz', 'hertz'],
    ['disk.used', '%', 'gauge', 'disk_used_percent', 'percent'],
    // Unit suffix not repeated when the name already ends with it.
    ['request_duration_seconds', 's', 'histogram', 'request_duration_seconds', 'seconds'],
    ['seconds', 's', 'gauge', 'seconds', 'seconds'],
    ['bytes_per_second', 'By/s', 'gauge', 'bytes_per_second', 'bytes_per_second'],
    // Only a suffix counts: OpenMetrics needs the unit at the end of the name.
    ['seconds_behind', 's', 'gauge', 'seconds_behind_seconds', 'seconds'],
    // Counters: `_total` stripped (the renderer adds it), unit placed before it.
    ['http.requests.total', '{request}', 'counter', 'http_requests', ''],
    ['process.cpu.time', 's', 'counter', 'process_cpu_time_seconds', 'seconds'],
    ['cpu_seconds_total', 's', 'counter', 'cpu_seconds', 'seconds'],
    ['energy_total', 'J', 'counter', 'energy_joules', 'joules'],
    ['total', '', 'counter', 'total', ''],
    ['errors__total', '', 'counter', 'errors', ''],
    // `_total` is only special for counters.
    ['queue_total', '', 'gauge', 'queue_total', ''],
    // `1`: ratio for gauges only.
    ['cpu.utilization', '1', 'gauge', 'cpu_utilization_ratio', 'ratio'],
    ['hit_ratio', '1', 'gauge', 'hit_ratio', 'ratio'],
    ['packets', '1', 'counter', 'packets', ''],
    ['batch.size', '1', 'histogram', 'batch_size', ''],
    // Annotations dropped; a count of things is unitless.
    ['system.network.packets', '{packet}', 'counter', 'system_network_packets', ''],
    ['queue.size', '{item}', 'gauge', 'queue_size', ''],
    ['payload', 'By{compressed}', 'histogram', 'payload_bytes', 'bytes'],
    // Per-units.
    ['throughput', 'By/s', 'gauge', 'throughput_bytes_per_second', 'bytes_per_second'],
    ['speed', 'm/s', 'gauge', 'speed_meters_per_second', 'meters_per_second'],
    ['rate', '{request}/s', 'gauge', 'rate_per_second', 'per_second'],
    ['rate', '1/s', 'gauge', 'rate_per_second', 'per_second'],
    ['events', '{event}/m', 'gauge', 'events_per_minute', 'per_minute'],
    ['growth', 'By/h', 'gauge', 'growth_bytes_per_hour', 'bytes_per_hour'],
    ['growth', 'By/d', 'gauge', 'growth_bytes_per_day', 'bytes_per_day'],
    ['deploys', '{deploy}/w', 'gauge', 'deploys_per_week', 'per_week'],
    ['cost', 'USD/mo', 'gauge', 'cost_USD_per_month', 'USD_per_month'],
    ['cost', 'USD/y', 'gauge', 'cost_USD_per_year', 'USD_per_year'],
    ['odd', 'By/parsec', 'gauge', 'odd_bytes_per_parsec', 'bytes_per_parsec'],
    // Unknown units are sanitised and used as-is.
    ['link', 'Mbit', 'gauge', 'link_Mbit', 'Mbit'],
    ['weird', 'foo.bar', 'gauge', 'weird_foo_bar', 'foo_bar'],
    ['spaced', ' s ', 'gauge', 'spaced_seconds', 'seconds'],
    ['none', '', 'gauge', 'none', ''],
    // Name sanitisation.
    ['http.server.active-requests', '', 'gauge', 'http_server_active_requests', ''],
    ['a..b//c', '', 'gauge', 'a_b_c', ''],
    ['recorded:rule', '', 'gauge', 'recorded:rule', ''],
    ['2xx.responses', '', 'counter', '_2xx_responses', ''],
    ['température', 'Cel', 'gauge', 'temp_rature_celsius', 'celsius'],
    ['__reserved', '', 'gauge', '_reserved', ''],
    ['trailing.', 's', 'gauge', 'trailing_seconds', 'seconds'],
    ['', 's', 'gauge', '', ''],
  ];
  for (const [otlpName, otlpUnit, type, name, unit] of cases) {
    it(`${JSON.stringify(otlpName)} ${JSON.stringify(otlpUnit)} ${type} → ${name}`, () => {
      assert.deepEqual(familyName(otlpName, otlpUnit, type), { name, unit });
    });
  }

  it('always yields a name valid for Prometheus and ending in its unit', () => {
    for (const [otlpName, otlpUnit, type] of cases) {
      const { name, unit } = familyName(otlpName, otlpUnit, type);
      if (name === '') continue;
      assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      assert.doesNotMatch(name, /__/);
      if (unit !== '') assert.ok(name === unit || name.endsWith(`_${unit}`), name);
    }
  });
});

describe('labelSet', () => {
  // [attributes, expected flat label set]
  const cases: Array<[string, Array<[string, string]>, string[]]> = [
    ['empty', [], []],
    ['sorted by name', [['service.name', 'api'], ['http.method', 'GET']], ['http_method', 'GET', 'service_name', 'api']],
    ['invalid characters', [['k8s.pod-name', 'p'], ['a b/c', 'x']], ['a_b_c', 'x', 'k8s_pod_name', 'p']],
    ['leading digit gets key_', [['0.id', 'x'], ['9lives', 'y']], ['key_0_id', 'x', 'key_9lives', 'y']],
    ['leading single underscore kept', [['_private', 'x']], ['_private', 'x']],
    ['__ prefix collapsed out of the reserved namespace', [['__name__', 'evil'], ['__meta', 'm']], ['_meta', 'm', '_name_', 'evil']],
    ['non-ASCII replaced', [['größe', 'L']], ['gr_e', 'L']],
    ['colons are not valid in label names', [['a:b', 'x']], ['a_b', 'x']],
    ['collision merged by original key order', [['foo.bar', '2'], ['foo_bar', '3'], ['foo/bar', '1']], ['foo_bar', '2;1;3']],
    ['collision after collapsing', [['a..b', 'x'], ['a.b', 'y']], ['a_b', 'x;y']],
    ['empty values dropped', [['a', ''], ['b', 'x']], ['b', 'x']],
    ['empty value does not join a collision', [['a.b', ''], ['a_b', 'x']], ['a_b', 'x']],
    ['empty keys dropped', [['', 'x'], ['b', 'y']], ['b', 'y']],
    ['values untouched', [['msg', 'a "q"\n\\']], ['msg', 'a "q"\n\\']],
  ];
  for (const [title, pairs, expected] of cases) {
    it(title, () => {
      assert.deepEqual(labelSet(pairs), expected);
    });
  }

  it('renames the labels the renderer adds to exported_<name> (regression: a second le broke the whole exposition)', () => {
    assert.deepEqual(labelSet([['le', 'x'], ['quantile', '0.5'], ['window', '1y'], ['path', '/']], RESERVED_LABELS.histogram), ['exported_le', 'x', 'exported_quantile', '0.5', 'exported_window', '1y', 'path', '/']);
    assert.deepEqual(labelSet([['le', 'x'], ['quantile', '0.5']], RESERVED_LABELS.summary), ['exported_quantile', '0.5', 'le', 'x']);
    assert.deepEqual(labelSet([['le', 'x']]), ['le', 'x'], 'counters and gauges keep le');
    assert.deepEqual(labelSet([['le', 'a'], ['exported_le', 'b']], RESERVED_LABELS.histogram), ['exported_le', 'b;a'], 'merged like any collision');
  });

  it('does not reorder the caller\'s array', () => {
    const pairs: Array<[string, string]> = [['z', '1'], ['a', '2']];
    labelSet(pairs);
    assert.deepEqual(pairs, [['z', '1'], ['a', '2']]);
  });
});

describe('escaping', () => {
  const labelValues: Array<[string, string]> = [
    ['plain', 'plain'],
    ['back\\slash', 'back\\\\slash'],
    ['say "hi"', 'say \\"hi\\"'],
    ['two\nlines', 'two\\nlines'],
    ['\\"\n', '\\\\\\"\\n'],
    ['tab\tand\rcr', 'tab\tand\rcr'],
  ];
  for (const [raw, escaped] of labelValues) {
    it(`label value ${JSON.stringify(raw)}`, () => assert.equal(escapeLabelValue(raw), escaped));
  }

  // [raw, text 0.0.4, OpenMetrics]
  const helps: Array<[string, string, string]> = [
    ['Requests served.', 'Requests served.', 'Requests served.'],
    ['a\\b', 'a\\\\b', 'a\\\\b'],
    ['line1\nline2', 'line1\\nline2', 'line1\\nline2'],
    ['the "best"', 'the "best"', 'the \\"best\\"'],
  ];
  for (const [raw, text, om] of helps) {
    it(`help ${JSON.stringify(raw)}`, () => {
      assert.equal(escapeHelp(raw, false), text);
      assert.equal(escapeHelp(raw, true), om);
    });
  }
});

describe('formatValue', () => {
  const cases: Array<[number, string]> = [
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [0, '0'],
    [-0, '0'],
    [42, '42'],
    [-7, '-7'],
    [0.5, '0.5'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e-7, '1e-7'],
    [2 ** 53, '9007199254740992'],
    // Beyond 2^53 JS prints the shortest digits that round-trip, padded with zeros.
    [2 ** 60, '1152921504606847000'],
    [1e21, '1e+21'],
    [1.5e300, '1.5e+300'],
  ];
  for (const [value, text] of cases) {
    it(`${text}`, () => assert.equal(formatValue(value), text));
  }

  it('round-trips through a float parse', () => {
    for (let i = 0; i < 1000; i++) {
      const value = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20);
      assert.equal(Number(formatValue(value)), value);
    }
  });
});

describe('labelText', () => {
  it('is empty without labels', () => assert.equal(labelText([]), ''));
  it('shows only extra without labels', () => assert.equal(labelText([], 'le="+Inf"'), '{le="+Inf"}'));
  it('ignores an empty extra', () => assert.equal(labelText(['a', '1'], ''), '{a="1"}'));
  it('joins and escapes', () => {
    assert.equal(labelText(['a', 'x"y', 'b', 'l1\nl2']), '{a="x\\"y",b="l1\\nl2"}');
  });
  it('appends extra last', () => {
    assert.equal(labelText(['service_name', 'api'], 'quantile="0.99"'), '{service_name="api",quantile="0.99"}');
  });
});
