// Series: label text as the only copy of the labels, numbers in the shared slab, lazy distribution state.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labelText } from '../model/naming.js';
import { Family, Series, SeriesData } from './series.js';
import { parseLabelText, renderLabelText } from '../model/labels.js';

describe('series label text', () => {
  const awkward = [
    [],
    ['job', 'api'],
    ['a', '', 'b', 'x'],
    ['path', 'C:\\dir\\"quoted"', 'q', 'line1\nline2', 'r', '="," and }{'],
    ['trailing', 'back\\', 'z', '\\n is not a newline'],
  ];

  it('renders what the exporter renders, as one string', () => {
    for (const labels of awkward) assert.equal(renderLabelText(labels), labelText(labels));
  });

  it('parses back to the labels it was rendered from (escapes, quotes, commas, empty values)', () => {
    for (const labels of awkward) assert.deepEqual(parseLabelText(renderLabelText(labels)), labels);
    const s = new Series(new Family('f', 'counter', '', ''), renderLabelText(['code', '200', 'job', 'web']), false);
    assert.deepEqual(s.labels, ['code', '200', 'job', 'web']);
    assert.equal(s.labelOpen, '{code="200",job="web",');
    assert.equal(new Series(new Family('g', 'gauge', '', ''), '', false).labelOpen, '{');
  });
});

describe('series numbers and state', () => {
  it('keeps each series its own numbers, and a released slot is reused clean', () => {
    const family = new Family('f', 'counter', '', '');
    const a = new Series(family, '', false);
    const b = new Series(family, '', false);
    a.value = 1.5;
    a.startMs = 1_700_000_000_123.25;
    a.timeMs = 2;
    a.seenMs = 3;
    a.hash = 2 ** 52 + 7;
    b.value = 9;
    assert.deepEqual([a.value, a.startMs, a.timeMs, a.seenMs, a.hash, b.value], [1.5, 1_700_000_000_123.25, 2, 3, 2 ** 52 + 7, 9]);
    assert.ok(Number.isNaN(b.hash));
    a.release();
    a.value = 42; // a dead series writes into the sink, not into another series
    const c = new Series(family, '', false);
    assert.deepEqual([c.value, c.startMs, c.timeMs, c.seenMs, b.value], [0, 0, 0, 0, 9]);
    assert.ok(Number.isNaN(c.hash));
  });

  it('holds distribution state only once written, and reset drops it', () => {
    const s = new Series(new Family('h', 'histogram', '', ''), '', false);
    assert.deepEqual([s.count, s.bounds, s.counts, s.scale, s.zeroCount, s.positive, s.negative, s.percentiles], [0, null, null, 0, 0, null, null, null]);
    assert.ok(Number.isNaN(s.sum));
    s.data = SeriesData.Histogram;
    s.count = 3;
    s.sum = 4.5;
    s.bounds = new Float64Array([1]);
    assert.deepEqual([s.count, s.sum, s.bounds.length], [3, 4.5, 1]);
    s.hasValue = true;
    s.value = 7;
    s.reset(SeriesData.Number);
    assert.deepEqual([s.data, s.hasValue, s.value, s.count, s.bounds], [SeriesData.Number, false, 0, 0, null]);
    assert.ok(Number.isNaN(s.sum));
  });
});
