// The Statuspage API and badges part of bench:slo-scale (issue 13): vigild with `components`
// components (one 30d SLO each, a month of history: lib/slo-fleet.mjs), then per document
//   - the first GET (the document is rendered from the snapshot on first use) and the second
//     (served from the snapshot's cache): building must not happen per request;
//   - wrk against Vigil and against a bare uWS app answering the same bytes and headers, with
//     each process's CPU seconds per request, same run.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, freePort, spawnChild, stopChild, waitForHttp200, waitForLine } from './proc.mjs';
import { benchDir, repoRoot } from './result.mjs';
import { fleetConfig, fleetSloIds, writeFleetHistory } from './slo-fleet.mjs';

/** `startVigil(dir, name)`, `wrk(url, label)` → req/s and `get(url, headers)` come from slo-scale.mjs. */
export async function measureStatusApi({ scratch, components, durationS, log, startVigil, wrk, get }) {
  const dir = join(scratch, 'status-api');
  mkdirSync(dir, { recursive: true });
  const size = { components, slos: components };
  writeFileSync(join(dir, 'vigil.yaml'), fleetConfig(size));
  const { Storage } = await import(join(repoRoot, 'dist/daemon/storage/index.js'));
  Storage.open({ dataDir: dir }).close();
  writeFleetHistory(join(dir, 'vigil.db'), fleetSloIds(size), Date.now());
  const v = await startVigil(dir, 'vigil-slo-scale-status-api');
  const out = { ...size, durationS, documents: [] };
  try {
    await waitForHttp200(v.child, `${v.metrics}/-/ready`, 120_000);
    // The model is built on the first request: the first summary.json carries that.
    const modelStart = performance.now();
    const first = await get(`${v.status}/api/v2/summary.json`);
    if (first.status !== 200) throw new Error(`summary.json answered ${first.status}`);
    out.firstSummaryMs = performance.now() - modelStart;
    // The history loads after ready and each refresh that changes the model makes a new snapshot:
    // wait until summary.json's ETag holds for 3 s, so that first/second GETs see one snapshot.
    const settleStart = performance.now();
    for (let etag = first.headers.etag, since = performance.now(); performance.now() - since < 3000 && performance.now() - settleStart < 120_000; ) {
      await new Promise((r) => setTimeout(r, 500));
      const now = (await get(`${v.status}/api/v2/summary.json`)).headers.etag;
      if (now !== etag) [etag, since] = [now, performance.now()];
    }
    out.settleMs = performance.now() - settleStart;
    const last = `svc-${components - 1}`;
    const paths = ['/api/v2/summary.json', '/api/v2/components.json', '/api/v2/status.json', `/badge/${last}/status.svg`, `/badge/${last}/uptime.svg?window=30d`, `/badge/${last}/shields.json`];
    for (const path of paths) {
      const a = await get(`${v.status}${path}`);
      const b = await get(`${v.status}${path}`);
      if (a.status !== 200 || b.status !== 200) throw new Error(`${path} answered ${a.status}/${b.status}`);
      out.documents.push({ path, bytes: a.body.length, firstMs: a.ms, secondMs: b.ms, headers: a.headers, body: a.body });
    }
    for (const doc of out.documents.filter((d) => ['/api/v2/components.json', `/badge/${last}/uptime.svg?window=30d`, `/badge/${last}/status.svg`].includes(d.path))) {
      const bodyFile = join(scratch, 'status-api-body');
      writeFileSync(bodyFile, doc.body);
      const same = {};
      for (const h of ['content-type', 'cache-control', 'etag', 'access-control-allow-origin', 'vary']) if (doc.headers[h] !== undefined) same[h] = doc.headers[h];
      const headersFile = join(scratch, 'status-api-headers.json');
      writeFileSync(headersFile, JSON.stringify(same));
      const port = await freePort();
      const uws = spawnChild('uws', process.execPath, [join(benchDir, 'ceiling', 'uws-static.mjs'), '--port', String(port), '--body', bodyFile, '--headers', headersFile, '--exit-with-stdin'], { stdout: 'lines' });
      try {
        await waitForLine(uws, (e) => e.listening === true, 15_000);
        let cpu = cpuSeconds(v.child.pid);
        doc.vigilRps = wrk(`${v.status}${doc.path}`, `vigil ${doc.path}`);
        doc.vigilCpuS = cpuSeconds(v.child.pid) - cpu;
        cpu = cpuSeconds(uws.pid);
        doc.bareUwsRps = wrk(`http://127.0.0.1:${port}${doc.path}`, `bare uWS ${doc.path}`);
        doc.bareUwsCpuS = cpuSeconds(uws.pid) - cpu;
      } finally {
        await stopChild(uws, 3000);
      }
    }
  } finally {
    await stopChild(v.child, 20_000);
    rmSync(dir, { recursive: true, force: true });
  }
  for (const d of out.documents) {
    delete d.headers;
    delete d.body;
    log(`${d.path}: ${d.bytes} B, first GET ${d.firstMs.toFixed(1)} ms, second ${d.secondMs.toFixed(1)} ms${d.vigilRps ? `; ${Math.round(d.vigilRps)} req/s vs bare uWS ${Math.round(d.bareUwsRps)}` : ''}`);
  }
  return out;
}
