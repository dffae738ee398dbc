// Decoder bugs the fuzzer found, one test each, named for what broke.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MalformedPayloadError } from '../../errors.js';
import { otlpJsonToProtobuf } from '../json-to-proto.js';

/** A metrics request whose resource attribute is an AnyValue nested `depth` arrays deep. */
function deepJson(depth: number): Buffer {
  const value = `${'{"arrayValue":{"values":['.repeat(depth)}{"stringValue":"x"}${']}}'.repeat(depth)}`;
  return Buffer.from(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":${value}}]}}]}`);
}

describe('fuzz regressions', () => {
  test('OTLP/JSON AnyValue nested 10000 deep is malformed, not a stack overflow (was a RangeError, answered as a retryable worker failure)', () => {
    assert.throws(() => otlpJsonToProtobuf('metrics', deepJson(10_000)), (err: unknown) => err instanceof MalformedPayloadError && /nesting deeper than 32/.test(err.message));
  });

  test('OTLP/JSON nesting within the protobuf decoder bound is still accepted', () => {
    assert.ok(otlpJsonToProtobuf('metrics', deepJson(10)).length > 0);
  });
});
