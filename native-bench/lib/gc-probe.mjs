// Preloaded into the daemon by the memory benchmark (`node --expose-gc --import <this> bin/vigil.js …`):
// on SIGUSR2 it runs full garbage collections until the heap stops shrinking, then writes the main
// thread's memory figures as one JSON line to $VIGIL_GC_PROBE_OUT. Nothing in the daemon changes:
// without this preload SIGUSR2 keeps Node's default action, and the daemon never installs it.
import { appendFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const out = process.env.VIGIL_GC_PROBE_OUT;
const gc = globalThis.gc;
if (out && typeof gc === 'function') {
  let seq = 0;
  process.on('SIGUSR2', () => {
    // A few rounds: weak references and finalizers may free more on the next pass.
    let previous = Infinity;
    for (let round = 0; round < 5; round++) {
      gc();
      const used = process.memoryUsage().heapUsed;
      if (used >= previous - 64 * 1024) break;
      previous = used;
    }
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    appendFileSync(out, `${JSON.stringify({ seq: ++seq, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, mallocedMemory: h.malloced_memory })}\n`);
  });
}
