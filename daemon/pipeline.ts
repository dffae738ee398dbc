// Joins the receivers to the store: hand the raw request to a worker, merge its batch, count.

import { MalformedPayloadError, UnsupportedSignalError, WorkerFailedError } from '../collectors/errors.js';
import type { DecodePool } from '../collectors/worker/index.js';
import type { IngestOutcome, IngestSink } from '../collectors/otlp/types.js';
import type { SelfMetrics } from './self-metrics.js';
import type { Store } from './store/store.js';

/** Re-decodes allowed when series are evicted while a request is being decoded. */
const MAX_REDECODES = 3;

/** The ingest sink the receivers call. */
export function createPipeline(pool: DecodePool, store: Store, metrics: SelfMetrics): IngestSink {
  return async (signal, payload): Promise<IngestOutcome> => {
    if (signal !== 'metrics') throw new UnsupportedSignalError(signal);
    let forceDefinitions = false;
    for (let attempt = 0; attempt <= MAX_REDECODES; attempt++) {
      const result = await pool.decodeMetrics(payload, store.generation, forceDefinitions);
      if ('failed' in result) throw new MalformedPayloadError(result.message, result.reason);
      if (!store.canMerge(result)) {
        // Series this batch relies on were evicted meanwhile: decode again with full definitions.
        forceDefinitions = true;
        continue;
      }
      const merged = store.merge(result);
      metrics.pointsReceived.inc({ signal }, result.pointsReceived);
      metrics.pointsAccepted.inc({ signal }, merged.accepted);
      let message = '';
      for (const reason in merged.rejected) {
        const n = merged.rejected[reason]!;
        if (n === 0) continue;
        metrics.pointsRejected.inc({ signal, reason }, n);
        message += `${message === '' ? '' : '; '}${n} ${reason}`;
      }
      if (message !== '') message = `rejected data points: ${message} (see docs/errors.md)`;
      return { rejected: merged.rejectedTotal, message };
    }
    throw new WorkerFailedError('series were evicted repeatedly while the request was decoded; retry');
  };
}
