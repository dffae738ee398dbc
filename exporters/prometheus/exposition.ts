// Renders the read model for one scrape in the negotiated format: text 0.0.4 and OpenMetrics
// through the ExpositionWriter (render.ts), protobuf through the ProtoWriter (protobuf.ts). Each
// format keeps one buffer between scrapes, sized from the last one, and gives the event loop a turn
// every `sliceMs` so a large scrape never holds up ingest for long.

import type { Gatherer } from '../../daemon/model/read-model.js';
import { ExpositionBuffers, ExpositionWriter } from './exposition-writer.js';
import type { RenderedExposition } from './exposition-writer.js';
import type { ExpositionFormat } from './http.js';
import { ProtoWriter, protobufSteps } from './protobuf.js';
import { runSliced, writeFamiliesSliced } from './render.js';

/** A render function over `gatherer` for the HTTP endpoint. */
export function createRenderer(gatherer: Gatherer, sliceMs: number): (format: ExpositionFormat) => Promise<RenderedExposition> {
  const textBuffers = new ExpositionBuffers();
  const protoBuffers = new ExpositionBuffers();
  let lastTextBytes = 0;
  let lastProtoBytes = 0;
  return async (format) => {
    const families = await gatherer.gather();
    if (format === 'protobuf') {
      const out = new ProtoWriter(lastProtoBytes, protoBuffers);
      await runSliced(protobufSteps(families, out), sliceMs);
      const body = out.finish();
      lastProtoBytes = body.bytes.length;
      return body;
    }
    const out = new ExpositionWriter(lastTextBytes, textBuffers);
    await writeFamiliesSliced(families, format, out, sliceMs);
    if (format === 'openmetrics') out.write('# EOF\n');
    const body = out.finish();
    lastTextBytes = body.bytes.length;
    return body;
  };
}
