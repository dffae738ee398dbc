// Preloaded with `node --import` into a short-lived child (the `vigil report` CLI): at exit, writes
// the process's own CPU seconds, peak RSS and lifetime to $BENCH_CPU_OUT, as JSON. The parent
// cannot read a child's /proc entry once it has exited, and spawnSync gives no resource usage.
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_CPU_OUT;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssKiB: u.maxRSS, lifeMs: performance.now() }));
  });
}
