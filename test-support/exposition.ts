// Reading Prometheus text / OpenMetrics exposition in tests: sample lines parsed into name,
// unescaped labels and value, so assertions do not depend on label order.

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The line as rendered. */
  line: string;
}

/** Parses every sample line (comments and blank lines skipped); throws on a line it cannot read. */
export function parseSamples(exposition: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`unreadable sample line: ${JSON.stringify(line)}`);
    const name = line.slice(0, nameEnd);
    const labels: Record<string, string> = {};
    let at = nameEnd;
    if (line[at] === '{') {
      at++;
      while (line[at] !== '}') {
        const eq = line.indexOf('=', at);
        const key = line.slice(at, eq);
        if (line[eq + 1] !== '"') throw new Error(`unquoted label value in ${JSON.stringify(line)}`);
        let value = '';
        let i = eq + 2;
        for (; line[i] !== '"'; i++) {
          if (i >= line.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
          if (line[i] === '\\') {
            const next = line[++i];
            value += next === 'n' ? '\n' : next === '\\' ? '\\' : next === '"' ? '"' : `\\${next}`;
          } else {
            value += line[i];
          }
        }
        labels[key] = value;
        at = i + 1;
        if (line[at] === ',') at++;
      }
      at++;
    }
    const valueText = line.slice(at + 1).split(' ')[0]!;
    samples.push({ name, labels, value: Number(valueText), line });
  }
  return samples;
}

/** Samples named `name` whose labels include every pair in `labels`. */
export function samplesWith(exposition: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parseSamples(exposition).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample named `name` with these labels; undefined if none; throws if several. */
export function valueWith(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesWith(exposition, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}: ${found.map((s) => s.line).join(' | ')}`);
  return found[0]?.value;
}
