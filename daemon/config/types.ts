// The validated, normalised configuration every component receives. YAML keys are snake_case
// (see docs/configuration.md); here durations are milliseconds and sizes are bytes.

/** A listener address. */
export interface Endpoint {
  host: string;
  port: number;
}

/** The whole daemon configuration after validation and defaults. */
export interface Config {
  otlp: {
    grpc: Endpoint & {
      /** Largest request accepted, after decompression (otlp.grpc.max_message_size). */
      maxMessageBytes: number;
    };
    /** Bytes of requests admitted but not yet merged (otlp.max_inflight_size). */
    maxInflightBytes: number;
  };
  prometheus: Endpoint & {
    maxConcurrentScrapes: number;
    scrapeTimeoutMs: number;
  };
  status: Endpoint;
  storage: {
    dataDir: string;
  };
  workers: {
    /** Decode worker threads. */
    threads: number;
    /** Requests queued for a worker before admission answers UNAVAILABLE. */
    maxQueue: number;
  };
  series: {
    /** Active series across all families; beyond it points go to overflow series or are rejected. */
    limit: number;
    /** A series not updated for this long is removed. */
    stalenessMs: number;
    /** Exponential histograms are downscaled to at most this scale before export. */
    exponentialMaxScale: number;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  };
  /** The file the config came from, if any (for SIGHUP reload and messages). */
  source?: string;
}
