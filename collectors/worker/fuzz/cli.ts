// `npm run fuzz -- [--seconds N] [--seed S] [--case N] [--target decoders|daemon|all]`: the long
// fuzz run. Without --seed a random seed is chosen and printed; --case replays one case.

import { parseArgs } from 'node:util';
import { fuzzChildDaemon } from './child.js';
import { formatFailure, fuzzDecoders } from './run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    case: { type: 'string' },
    target: { type: 'string', default: 'all' },
  },
  strict: true,
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed) >>> 0;
const seconds = Number(values.seconds);
const target = values.target;
const replay = values.case === undefined ? undefined : Number(values.case);
if (!Number.isFinite(seconds) || seconds <= 0 || !['decoders', 'daemon', 'all'].includes(target)) {
  process.stderr.write('usage: npm run fuzz -- [--seconds N] [--seed S] [--case N] [--target decoders|daemon|all]\n');
  process.exit(2);
}
process.stdout.write(`fuzz seed ${seed}${replay === undefined ? '' : `, case ${replay}`}, ${seconds} s per target\n`);
let failed = 0;

if (target !== 'daemon') {
  const r = await fuzzDecoders({ seed, seconds, ...(replay === undefined ? {} : { start: replay, cases: 1 }) });
  process.stdout.write(`decoders: ${r.cases} cases in ${r.seconds.toFixed(1)} s (${r.batches} batches, ${r.malformed} malformed), slowest case ${r.slowestMs.toFixed(1)} ms (#${r.slowestIndex}), ${r.failures.length} failures\n`);
  for (const f of r.failures) process.stdout.write(`${formatFailure(f)}\n`);
  failed += r.failures.length;
}
if (target !== 'decoders') {
  const r = await fuzzChildDaemon(seed, seconds, replay === undefined ? undefined : 1);
  process.stdout.write(
    `daemon: ${r.cases} requests in ${r.seconds.toFixed(1)} s; answers ${JSON.stringify(r.answers)}; good request afterwards: ${r.goodAfter ? 'accepted' : 'REFUSED'}; ` +
      `heap ${(r.heapBaselineBytes / 2 ** 20).toFixed(1)} → ${(r.heapAfterBytes / 2 ** 20).toFixed(1)} MiB, RSS ${(r.rssBaselineBytes / 2 ** 20).toFixed(1)} → ${(r.rssAfterBytes / 2 ** 20).toFixed(1)} MiB; ${r.failures.length} failures\n`,
  );
  for (const f of r.failures) process.stdout.write(`${formatFailure(f)}\n`);
  failed += r.failures.length + (r.goodAfter ? 0 : 1) + (r.daemonExitedEarly ? 1 : 0);
}
process.exitCode = failed === 0 ? 0 : 1;
