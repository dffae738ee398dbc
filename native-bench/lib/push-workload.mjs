// Pushes a scrape-series workload (lib/scrape-series.mjs) as OTLP/gRPC metric exports, shared by
// bench:remote-write and its diagnosis helper.
import { countPoints, METRICS_EXPORT_PATH } from './otlp-metrics.mjs';
import { workloadRequests } from './scrape-series.mjs';

const identity = (b) => b;

/**
 * Pushes `workload` once (round `round`, 4 requests in flight) to every grpc client in `clients`
 * (one or a list): each request is encoded once and sent to all of them at the same time. Returns
 * the points each one got.
 */
export async function pushRound(clients, encoder, workload, round) {
  const list = Array.isArray(clients) ? clients : [clients];
  const pending = [...workloadRequests(workload, { round })];
  let points = 0;
  const send = async () => {
    for (let req = pending.shift(); req !== undefined; req = pending.shift()) {
      const n = countPoints(req);
      const payload = encoder.encode(req);
      await Promise.all(list.map((client) => new Promise((resolve, reject) => {
        client.makeUnaryRequest(METRICS_EXPORT_PATH, identity, identity, payload, { deadline: Date.now() + 60_000 }, (err) => (err ? reject(new Error(`Export failed: ${err.message}`)) : resolve()));
      })));
      points += n;
    }
  };
  await Promise.all([send(), send(), send(), send()]);
  return points;
}
