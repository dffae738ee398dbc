// The config file's YAML as plain JS values. `yaml` (eemeli/yaml) is the reference: it gives the
// errors with line and column, and decides every document outside the plain subset below. It
// parses about 1.5 MB/s here, though: 1 s of a 10,000-SLO config (1.6 MB) before vigild can start
// (issue 13, docs/performance.md "slo-start"). js-yaml parses the same file in ~0.1 s, so a
// document in the plain subset (no directives, anchors or explicit `?` keys: the only places where
// the two differ in what they accept) is read by js-yaml with YAML 1.2's core schema spelled out
// below, the one `yaml` uses by default. yaml.test.ts holds the two to the same values.

import { FAILSAFE_SCHEMA, Type, load } from 'js-yaml';
import { parseDocument } from 'yaml';

// YAML 1.2.2, 10.3.2 "Tag Resolution" of the core schema (js-yaml's own CORE_SCHEMA also reads
// 0b binary and not `+.5`: not what `yaml` does).
const NULL = /^(?:~|null|Null|NULL|)$/;
const BOOL = /^(?:true|True|TRUE|false|False|FALSE)$/;
const INT = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
// A float has a dot or an exponent (as in `yaml`: `!!float "1"` stays a string there); plain
// integers are ints first anyway.
const FLOAT = /^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

function toInt(text: string): number {
  if (text.startsWith('0o')) return parseInt(text.slice(2), 8);
  if (text.startsWith('0x')) return parseInt(text.slice(2), 16);
  return Number(text);
}

function toFloat(text: string): number {
  const lower = text.toLowerCase();
  if (lower.endsWith('.inf')) return text.startsWith('-') ? -Infinity : Infinity;
  if (lower === '.nan') return NaN;
  return Number(text);
}

const CORE_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
    new Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s: string) => NULL.test(s), construct: () => null }),
    new Type('tag:yaml.org,2002:bool', { kind: 'scalar', resolve: (s: string) => BOOL.test(s), construct: (s: string) => s.toLowerCase() === 'true' }),
    new Type('tag:yaml.org,2002:int', { kind: 'scalar', resolve: (s: string) => INT.test(s), construct: toInt }),
    new Type('tag:yaml.org,2002:float', { kind: 'scalar', resolve: (s: string) => FLOAT.test(s), construct: toFloat }),
  ],
});

/**
 * Outside the plain subset: a directive (`%YAML 1.1` changes the schema), an anchor (`yaml` caps
 * alias expansion; js-yaml would share the node) or an explicit key (`? [a]`, stringified
 * differently). Conservative: an `&` after a space or indicator is taken for an anchor even inside
 * a quoted string, which only costs the slower parser.
 */
const NOT_PLAIN = /^%|(?:^|[\s:,[{-])&[^\s,[\]{}]|^[ \t-]*\?(?:[ \t]|$)/m;

/** The document's value, or its syntax errors as `line L, column C: YAML syntax error: …`. */
export function parseConfigYaml(text: string): { value: unknown } | { errors: string[] } {
  if (!NOT_PLAIN.test(text)) {
    try {
      // js-yaml gives undefined for an empty document; `yaml` (and the validation) expect null.
      return { value: load(text, { schema: CORE_SCHEMA }) ?? null };
    } catch {
      // Invalid, or something js-yaml refuses (an unknown tag): `yaml` decides, with its messages.
    }
  }
  return parseWithYaml(text);
}

/** The reference parse (eemeli/yaml): every document outside the plain subset, and every error. */
export function parseWithYaml(text: string): { value: unknown } | { errors: string[] } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        // yaml appends " at line L, column C:" and a source excerpt; keep only the sentence.
        const reason = e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
        return at === undefined ? `YAML syntax error: ${reason}` : `line ${at.line}, column ${at.col}: YAML syntax error: ${reason}`;
      }),
    };
  }
  return { value: doc.toJS() };
}
