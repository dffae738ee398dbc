// The status exporter on uWebSockets.js: the page, the Statuspage v2 JSON API, the WebSocket live
// feed, feeds, badges and the admin API, plus a small route table other components add to.
//
// Everything public is rendered from one snapshot per change (a new incident, an override, a
// component's status moving), lazily per path and then served from memory with an ETag. The
// snapshot is rebuilt on every store change (synchronously, so a GET after an admin POST sees it)
// and on a timer that re-reads the SLO engine.
//
// uWS rules kept here (as in collectors/otlp/http-server.ts): headers are read before the handler
// returns, onAborted is set before any asynchronous step, chunks are copied, later writes are corked.

import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket, WebSocket } from 'uWebSockets.js';
import type { ComponentConfig } from '../../daemon/config/types.js';
import type { SloEngine, SloStatus } from '../../daemon/slo/index.js';
import { UwsFallbackError } from '../../collectors/errors.js';
import { StorageUnavailableError } from '../../daemon/storage/index.js';
import { createUwsApp, fallbackAllowed, loadUws } from '../../collectors/otlp/uws.js';
import type { TlsFiles } from '../../collectors/otlp/types.js';
import {
  AdminAuth,
  BadRequestError,
  parseDraftEdit,
  parseIncidentUpdate,
  parseJsonObject,
  parseMaintenanceChange,
  parseNewIncident,
  parseNewMaintenance,
  parseOverride,
} from './admin.js';
import { renderSvg, shieldsJson, statusBadge, uptimeBadge } from './badges.js';
import { renderAtom, renderRss } from './feeds.js';
import { HISTORY_DAYS, buildModel, windowUptime } from './model.js';
import type { ShownStatus, StatusModel } from './model.js';
import { ADMIN_RATE_LIMIT_DEFAULTS, AdminRateLimiter, clientKey } from './rate-limit.js';
import type { AdminRateLimitOptions, RateLimited } from './rate-limit.js';
import { PAGE_CSP, renderPage, renderSections } from './page.js';
import { StatuspageV2 } from './statuspage.js';
import type { Incident, StatusChange, StatusStore } from './store.js';

/** Settings of the status exporter. */
export interface StatusExporterOptions {
  host: string;
  port: number;
  title: string;
  /** Zone of the daily uptime bars (slo.timezone). */
  timeZone: string;
  refreshIntervalMs: number;
  /** Groups with more components than this are shown collapsed (status.collapse_groups_over; 0 never). Default 20. */
  collapseGroupsOver?: number;
  /** Bearer tokens for /api/admin/*; none configured means every admin request is refused. */
  adminTokens: readonly string[];
  components: readonly ComponentConfig[];
  slo: SloEngine;
  store: StatusStore;
  /** Largest admin request body; more is answered 413. Default 64 KiB. */
  maxBodyBytes?: number;
  logger?: Logger;
  /** Told once at start when uWS runs its pure-JS fallback and VIGIL_ALLOW_UWS_FALLBACK accepted it. */
  onFallback?: (detail: string) => void;
  /** TLS (status.tls); absent or null = plaintext. clientCaFile must be null (uWS cannot require client certificates). */
  tls?: TlsFiles | null;
  /** Per-client limits of /api/admin/* (status.admin_rate_limit); defaults in ADMIN_RATE_LIMIT_DEFAULTS. */
  adminRateLimit?: AdminRateLimitOptions;
  /** Told of every admin request refused with 429, by the limit's reason. */
  onAdminRateLimited?: (reason: RateLimited['reason']) => void;
  /** Components held down by a non-traffic source (heartbeats down), read at every refresh. */
  componentsDown?: () => ReadonlyMap<string, SloStatus>;
}

/** A request as route handlers see it (read in full before the handler runs). */
export interface StatusRequest {
  method: string;
  path: string;
  /** Values of the pattern's `:name` segments. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** A request header, lower-case name; '' when absent. */
  header(name: string): string;
  /** The body (empty for GET); at most maxBodyBytes. */
  body: Buffer;
  /** The rate-limit key of the peer (exporters/status/rate-limit.ts clientKey). */
  client: string;
}

/** A handler's answer. With `etag`, an ETag is added and If-None-Match answered 304. */
export interface StatusResponse {
  status: number;
  body: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  etag?: boolean;
}

/** A route another component adds (reports, webhooks admin): uWS pattern syntax, e.g. `/api/v1/reports/:file`. */
export interface StatusRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  pattern: string;
  /** Require an admin bearer token (401/403 otherwise). */
  admin?: boolean;
  handler: (req: StatusRequest) => StatusResponse | Promise<StatusResponse>;
  /** A GET route that must not also answer HEAD (by default every GET route does, without its body). */
  noHead?: boolean;
}

/** A response rendered once per snapshot; its compressed copies are made on first request, once. */
interface Cached {
  body: Buffer;
  etag: string;
  contentType: string;
  cacheControl: string;
  cors: boolean;
  gzip?: Buffer;
  br?: Buffer;
}

/** A content coding the client accepts, best first; bodies under this many bytes are sent as they are. */
type Coding = 'br' | 'gzip' | 'identity';
const COMPRESS_MIN_BYTES = 1024;

/**
 * The coding to answer with for an Accept-Encoding header (RFC 9110 §12.5.3): brotli, else gzip,
 * when accepted with a q-value above 0 (by name or `*`); identity otherwise.
 */
export function negotiateEncoding(header: string): Coding {
  if (header === '') return 'identity';
  const q = new Map<string, number>();
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name === undefined || name === '') continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m !== null) weight = Number(m[1]);
    }
    q.set(name.trim(), Number.isFinite(weight) ? weight : 0);
  }
  const accepts = (coding: string): boolean => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip') || (q.get('x-gzip') ?? 0) > 0) return 'gzip';
  return 'identity';
}

/** The body and ETag of `doc` in `coding`, compressing it the first time it is asked for. */
function encoded(doc: Cached, coding: Coding): { body: Buffer; etag: string; coding: Coding } {
  if (coding === 'identity' || doc.body.length < COMPRESS_MIN_BYTES) return { body: doc.body, etag: doc.etag, coding: 'identity' };
  if (coding === 'br') {
    // Quality 5: about gzip's speed, smaller output; 11 would take seconds on a 1,000-component page.
    doc.br ??= brotliCompressSync(doc.body, {
      params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: doc.body.length, [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT },
    });
    return { body: doc.br, etag: `${doc.etag.slice(0, -1)}-br"`, coding };
  }
  doc.gzip ??= gzipSync(doc.body, { level: 6 });
  return { body: doc.gzip, etag: `${doc.etag.slice(0, -1)}-gz"`, coding };
}

/** One state of the world, and its renders. */
interface Snapshot {
  generation: number;
  updatedMs: number;
  model: StatusModel;
  v2: StatuspageV2;
  cache: Map<string, Cached>;
  message: string | null;
}

const STATUS_LINE: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const JSON_TYPE = 'application/json; charset=utf-8';
/** Public documents: short-lived in caches, revalidated cheaply with the ETag. */
const PUBLIC_CACHE = 'public, max-age=5';
/** The page updates itself; a reload should always revalidate. */
const PAGE_CACHE = 'no-cache';
/** The WebSocket topic of the page at `/`. */
const PAGE_TOPIC = 'status:/';
const DEFAULT_MAX_BODY = 64 * 1024;
/** status.collapse_groups_over's default. */
const DEFAULT_COLLAPSE_GROUPS_OVER = 20;
/** Headers handlers can read on the uWS fallback, which cannot iterate them. */
const FALLBACK_HEADERS = ['authorization', 'content-length', 'content-type', 'transfer-encoding', 'if-none-match', 'accept', 'accept-encoding', 'host', 'user-agent'];

/** The Statuspage v2 documents, by path. */
const V2_PATHS: Record<string, (v2: StatuspageV2) => unknown> = {
  '/api/v2/summary.json': (v) => v.summary(),
  '/api/v2/status.json': (v) => v.status(),
  '/api/v2/components.json': (v) => v.components(),
  '/api/v2/incidents.json': (v) => v.incidents(),
  '/api/v2/incidents/unresolved.json': (v) => v.unresolved(),
  '/api/v2/scheduled-maintenances.json': (v) => v.scheduledMaintenances(),
  '/api/v2/scheduled-maintenances/upcoming.json': (v) => v.upcoming(),
  '/api/v2/scheduled-maintenances/active.json': (v) => v.active(),
};

/** The running status exporter. */
export class StatusExporter {
  readonly store: StatusStore;
  readonly #options: StatusExporterOptions;
  readonly #auth: AdminAuth;
  readonly #rateLimiter: AdminRateLimiter;
  readonly #componentIds: ReadonlySet<string>;
  readonly #routes: StatusRoute[] = [];
  readonly #createdMs = Date.now();
  #uws: typeof import('uWebSockets.js') | null = null;
  #app: TemplatedApp | null = null;
  #listenSocket: us_listen_socket | null = null;
  #port = 0;
  #snapshot: Snapshot | null = null;
  #key = '';
  #generation = 0;
  #shown = new Map<string, ShownStatus>();
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  #started = false;
  #routesFrozen = false;
  /** The native binary: pub/sub, header iteration and endWithoutBody exist (the pure-JS fallback lacks them). */
  #native = true;
  #shutdown: Promise<void> | null = null;

  constructor(options: StatusExporterOptions) {
    this.#options = options;
    this.store = options.store;
    this.#auth = new AdminAuth(options.adminTokens);
    this.#rateLimiter = new AdminRateLimiter(options.adminRateLimit ?? ADMIN_RATE_LIMIT_DEFAULTS);
    this.#componentIds = new Set(options.components.map((c) => c.id));
  }

  /** Adds a route; call before start(). */
  route(route: StatusRoute): void {
    if (this.#routesFrozen) throw new Error('status routes must be added before start()');
    this.#routes.push(route);
  }

  /** The current model (rebuilt on change and every refresh interval). */
  model(): StatusModel {
    return this.#current().model;
  }

  /** Which generation the public documents are at; it grows on every change. */
  get generation(): number {
    return this.#current().generation;
  }

  /** Subscribes to every change: the store's, and component.status_changed. Returns the unsubscribe function. */
  onChange(listener: (change: StatusChange) => void): () => void {
    return this.store.onChange(listener);
  }

  /** WebSocket clients subscribed to the page's topic. */
  get liveClients(): number {
    return this.#native && this.#routesFrozen && this.#app !== null ? this.#app.numSubscribers(PAGE_TOPIC) : 0;
  }

  /** Loads uWS (refusing its fallback unless allowed), builds the first snapshot and binds the port. */
  async start(): Promise<void> {
    if (this.#shutdown !== null) throw new Error('the status exporter was shut down');
    const { uws, native, detail } = loadUws();
    if (!native) {
      if (!fallbackAllowed()) throw new UwsFallbackError(detail);
      this.#options.onFallback?.(detail);
    }
    this.#uws = uws;
    this.#native = native;
    this.#started = true;
    const app = createUwsApp(uws, this.#options.tls ?? null, 'the status page');
    this.#app = app;
    this.#unsubscribe = this.store.onChange((change) => {
      // component.status_changed is ours, emitted by refresh() itself.
      if (change.kind !== 'component.status_changed') this.refresh();
    });
    // With thousands of SLOs the engine loads their history in the background; the first model
    // waits for it (a request before then builds it at once), so that binding is not held up.
    const deferFirst = this.#options.slo.historyLoading;
    if (!deferFirst) this.refresh();
    this.#register(app);
    this.#routesFrozen = true;
    const { host, port } = this.#options;
    this.#listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      const done = (socket: us_listen_socket | false): void => {
        if (socket === false) reject(new Error(`cannot listen for the status page on ${formatHost(host)}:${port} (address in use or not available)`));
        else resolve(socket);
      };
      // Exclusive port, as the OTLP/HTTP receiver does.
      (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void).call(app, host, port, 1, done);
    });
    this.#port = uws.us_socket_local_port(this.#listenSocket as unknown as us_socket);
    // The page URL (feeds, shortlinks) is known only now.
    this.#key = '';
    if (deferFirst) {
      void this.#options.slo.whenHistoryLoaded().then(() => {
        if (this.#shutdown === null) this.refresh();
      });
    } else this.refresh();
    this.#timer = setInterval(() => this.refresh(), this.#options.refreshIntervalMs);
    this.#timer.unref();
  }

  /** The bound address (port resolved when 0 was asked for). */
  address(): { host: string; port: number } {
    return { host: this.#options.host, port: this.#port };
  }

  /** The page's base URL (no trailing slash), used in feeds and shortlinks. */
  baseUrl(): string {
    return `http://${formatHost(this.#options.host)}:${this.#port === 0 ? this.#options.port : this.#port}`;
  }

  /**
   * Re-reads the SLO engine and the store; when anything shown changed, starts a new generation:
   * cached documents are dropped, component status changes are announced, the live feed is told.
   */
  refresh(): void {
    let model: StatusModel;
    try {
      model = buildModel(
        {
          title: this.#options.title,
          timeZone: this.#options.timeZone,
          components: this.#options.components,
          slo: this.#options.slo,
          store: this.store,
          collapseGroupsOver: this.#options.collapseGroupsOver ?? DEFAULT_COLLAPSE_GROUPS_OVER,
          ...(this.#options.componentsDown === undefined ? {} : { componentsDown: this.#options.componentsDown }),
        },
        Date.now(),
      );
    } catch (err) {
      this.#options.logger?.error({ err }, 'status page: building the model failed; serving the previous one');
      return;
    }
    const key = JSON.stringify(model);
    if (key === this.#key && this.#snapshot !== null) return;
    this.#key = key;
    const now = Date.now();
    const snapshot: Snapshot = {
      generation: ++this.#generation,
      updatedMs: now,
      model,
      v2: new StatuspageV2(model, this.#pageInfo(), now),
      cache: new Map(),
      message: null,
    };
    this.#snapshot = snapshot;
    const changes: StatusChange[] = [];
    for (const c of model.components) {
      const before = this.#shown.get(c.id);
      if (before !== undefined && before !== c.status) changes.push({ kind: 'component.status_changed', atMs: now, component: c.id, oldStatus: before, newStatus: c.status });
      this.#shown.set(c.id, c.status);
    }
    for (const change of changes) this.store.emit(change);
    // uWS has no topic tree before a ws() route exists: asking it then crashes the process.
    if (this.#native && this.#routesFrozen && this.#app !== null && this.#app.numSubscribers(PAGE_TOPIC) > 0) this.#app.publish(PAGE_TOPIC, this.#message(snapshot), false, true);
  }

  #pageInfo() {
    return {
      id: createHash('sha256').update(`vigil:${this.#options.title}`).digest('hex').slice(0, 12),
      name: this.#options.title,
      url: this.baseUrl(),
      timeZone: this.#options.timeZone,
      createdMs: this.#createdMs,
    };
  }

  #current(): Snapshot {
    if (this.#snapshot === null) this.refresh();
    return this.#snapshot!;
  }

  /** The live-feed message of a snapshot: the page's re-rendered sections and the v2 summary. */
  #message(s: Snapshot): string {
    s.message ??= JSON.stringify({
      type: 'status',
      generation: s.generation,
      title: s.model.title,
      sections: renderSections(s.model, s.updatedMs),
      summary: s.v2.summary(),
    });
    return s.message;
  }

  /** A document of the current snapshot, rendered on first use. */
  #cached(key: string, render: (s: Snapshot) => { body: string; contentType: string; cacheControl?: string; cors?: boolean }): Cached {
    const s = this.#current();
    let hit = s.cache.get(key);
    if (hit === undefined) {
      const r = render(s);
      const body = Buffer.from(r.body);
      hit = {
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        contentType: r.contentType,
        cacheControl: r.cacheControl ?? PUBLIC_CACHE,
        cors: r.cors ?? false,
      };
      s.cache.set(key, hit);
    }
    return hit;
  }

  #register(app: TemplatedApp): void {
    const page = () =>
      this.#cached('/', (s) => ({ body: renderPage(s.model, renderSections(s.model, s.updatedMs), s.generation), contentType: 'text/html; charset=utf-8', cacheControl: PAGE_CACHE }));
    this.#getCached(app, '/', page, { 'content-security-policy': PAGE_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
    for (const [path, render] of Object.entries(V2_PATHS)) {
      this.#getCached(app, path, () => this.#cached(path, (s) => ({ body: JSON.stringify(render(s.v2)), contentType: JSON_TYPE, cors: true })));
    }
    this.#getCached(app, '/history.atom', () => this.#cached('/history.atom', (s) => ({ body: renderAtom(s.model, this.baseUrl(), s.updatedMs), contentType: 'application/atom+xml; charset=utf-8' })));
    this.#getCached(app, '/history.rss', () => this.#cached('/history.rss', (s) => ({ body: renderRss(s.model, this.baseUrl(), s.updatedMs), contentType: 'application/rss+xml; charset=utf-8' })));
    this.#badgeRoutes(app);
    this.#adminRoutes();
    for (const route of this.#routes) this.#registerRoute(app, route);

    // The pure-JS fallback has no pub/sub: no live feed there (the page still works, reloaded).
    if (this.#native) this.#liveFeed(app);
    app.any('/*', (res, req) => {
      const url = req.getUrl();
      const closeAfter = hasBody(req);
      const head = req.getMethod() === 'head';
      const body = `404 page not found: ${url.length > 200 ? `${url.slice(0, 200)}...` : url}\n`;
      res.cork(() => {
        res.writeStatus(STATUS_LINE[404]!).writeHeader('content-type', 'text/plain; charset=utf-8').writeHeader('x-content-type-options', 'nosniff');
        if (head) this.#endHead(res, Buffer.byteLength(body));
        else res.end(body, closeAfter);
      });
    });
  }

  #liveFeed(app: TemplatedApp): void {
    app.ws<Record<string, never>>('/ws', {
      maxPayloadLength: 1024,
      idleTimeout: 120,
      // permessage-deflate when the client offers it: a 1,000-component update is megabytes of
      // markup that compresses about 50 times; the shared compressor keeps no state per socket.
      compression: this.#uws!.SHARED_COMPRESSOR,
      sendPingsAutomatically: true,
      // A client that cannot keep up with 1 MiB of updates is dropped; it reconnects and gets the latest.
      maxBackpressure: 1024 * 1024,
      closeOnBackpressureLimit: 1,
      open: (ws: WebSocket<Record<string, never>>) => {
        ws.subscribe(PAGE_TOPIC);
        ws.send(this.#message(this.#current()), false, true);
      },
      // The feed is one-way; what clients send is ignored.
      message: () => {},
    });
  }

  /** GET of a cached document, with If-None-Match → 304. */
  #getCached(app: TemplatedApp, path: string, get: (req: HttpRequest) => Cached, extra: Record<string, string> = {}): void {
    const serve = (res: HttpResponse, req: HttpRequest): void => {
      let doc: Cached;
      try {
        doc = get(req);
      } catch (err) {
        const head = req.getMethod() === 'head';
        if (err instanceof BadRequestError) {
          this.#send(res, head, 400, JSON_TYPE, JSON.stringify({ error: err.message, field: err.field }));
          return;
        }
        if (err instanceof NotFound) {
          this.#send(res, head, 404, 'text/plain; charset=utf-8', `${err.message}\n`);
          return;
        }
        this.#options.logger?.error({ err, path }, 'status page: render failed');
        this.#send(res, head, 500, 'text/plain; charset=utf-8', 'internal error\n');
        return;
      }
      const inm = req.getHeader('if-none-match');
      // Compressed once per snapshot and coding, like the document itself; each coding has its own ETag.
      const rep = encoded(doc, negotiateEncoding(req.getHeader('accept-encoding')));
      const notModified = inm !== '' && etagMatches(inm, rep.etag);
      const head = req.getMethod() === 'head';
      res.cork(() => {
        res.writeStatus(notModified ? STATUS_LINE[304]! : STATUS_LINE[200]!);
        res.writeHeader('etag', rep.etag).writeHeader('cache-control', doc.cacheControl).writeHeader('content-type', doc.contentType).writeHeader('vary', 'Accept-Encoding');
        if (rep.coding !== 'identity') res.writeHeader('content-encoding', rep.coding);
        if (doc.cors) res.writeHeader('access-control-allow-origin', '*');
        for (const [k, v] of Object.entries(extra)) res.writeHeader(k, v);
        if (notModified) this.#endEmpty(res, false);
        else if (head) this.#endHead(res, rep.body.length);
        else res.end(rep.body);
      });
    };
    app.get(path, serve);
    // HEAD: the GET's headers (Content-Length included) and no body; uptime monitors and link checkers use it.
    app.head(path, serve);
  }

  #badgeRoutes(app: TemplatedApp): void {
    // Components by id, once per model: a badge request is a map lookup and a cached body, not a scan of 1,000 components.
    const byId = new WeakMap<StatusModel, Map<string, StatusModel['components'][number]>>();
    const slosOf = new WeakMap<StatusModel, Map<string, StatusModel['slos'][number][]>>();
    /** Days of the uptime badge's window by raw query string; 0 = invalid. */
    const windowDays = new Map<string, number>();
    const component = (req: HttpRequest) => {
      const id = req.getParameter(0) ?? '';
      const model = this.#current().model;
      let index = byId.get(model);
      if (index === undefined) byId.set(model, (index = new Map(model.components.map((x) => [x.id, x]))));
      const c = index.get(id);
      if (c === undefined) throw new NotFound(`no component ${id.length > 100 ? id.slice(0, 100) : id}`);
      return c;
    };
    const svg = 'image/svg+xml; charset=utf-8';
    this.#getCached(app, '/badge/:component/status.svg', (req) => {
      const c = component(req);
      return this.#cached(`badge:${c.id}:status.svg`, () => ({ body: renderSvg(statusBadge(c.name, c.status)), contentType: svg, cors: true }));
    });
    this.#getCached(app, '/badge/:component/shields.json', (req) => {
      const c = component(req);
      return this.#cached(`badge:${c.id}:shields.json`, () => ({ body: JSON.stringify(shieldsJson(statusBadge(c.name, c.status))), contentType: JSON_TYPE, cors: true }));
    });
    this.#getCached(app, '/badge/:component/uptime.svg', (req) => {
      const c = component(req);
      // The query's window, parsed once per distinct query string (badges are fetched with the same few).
      const query = rawQuery(req);
      let days = windowDays.get(query);
      if (days === undefined) {
        const match = /^([1-9]\d?)d$/.exec(new URLSearchParams(query).get('window') || '30d');
        days = match === null || Number(match[1]) > HISTORY_DAYS ? 0 : Number(match[1]);
        if (windowDays.size >= 1000) windowDays.clear();
        windowDays.set(query, days);
      }
      if (days === 0) throw new BadRequestError('window', `must be 1d to ${HISTORY_DAYS}d`);
      const window = `${days}d`;
      return this.#cached(`badge:${c.id}:uptime.svg:${window}`, () => {
        // The model's SLO list, not a fresh report(): that would evaluate every SLO per badge.
        const model = this.#current().model;
        let grouped = slosOf.get(model);
        if (grouped === undefined) {
          slosOf.set(model, (grouped = new Map()));
          for (const x of model.slos) {
            const list = grouped.get(x.component);
            if (list === undefined) grouped.set(x.component, [x]);
            else list.push(x);
          }
        }
        const slos = grouped.get(c.id) ?? [];
        return { body: renderSvg(uptimeBadge(c.name, window, windowUptime(this.#options.slo, { slos }, days))), contentType: svg, cors: true };
      });
    });
  }

  #adminRoutes(): void {
    const known = this.#componentIds;
    const store = this.store;
    const notFound = (what: string, id: string): StatusResponse => json(404, { error: `no ${what} ${id}` });
    const v2 = () => this.#current().v2;
    this.route({
      method: 'POST',
      pattern: '/api/admin/incidents',
      admin: true,
      handler: (req) => {
        const incident = store.createIncident(parseNewIncident(parseJsonObject(req.body), known));
        return json(201, v2().incident(incident));
      },
    });
    this.route({
      method: 'POST',
      pattern: '/api/admin/incidents/:id/updates',
      admin: true,
      handler: (req) => {
        const input = parseIncidentUpdate(parseJsonObject(req.body), known);
        const incident = store.addIncidentUpdate(req.params['id']!, input);
        return incident === undefined ? notFound('incident', req.params['id']!) : json(201, v2().incident(incident));
      },
    });
    // Drafts (automatic incidents with status.auto_incidents.publish: false): list, publish, edit, discard.
    const draftJson = (incident: Incident): unknown => ({ ...v2().incident(incident), draft: incident.draft, auto_component: incident.autoComponent });
    this.route({ method: 'GET', pattern: '/api/admin/incidents/drafts', admin: true, handler: () => json(200, { incidents: store.drafts().map(draftJson) }) });
    this.route({
      method: 'POST',
      pattern: '/api/admin/incidents/:id/publish',
      admin: true,
      handler: (req) => {
        const incident = store.publishIncident(req.params['id']!);
        return incident === undefined ? notFound('draft incident', req.params['id']!) : json(200, draftJson(incident));
      },
    });
    this.route({
      method: 'PATCH',
      pattern: '/api/admin/incidents/:id',
      admin: true,
      handler: (req) => {
        const incident = store.editDraft(req.params['id']!, parseDraftEdit(parseJsonObject(req.body), known));
        return incident === undefined ? notFound('draft incident', req.params['id']!) : json(200, draftJson(incident));
      },
    });
    this.route({
      method: 'DELETE',
      pattern: '/api/admin/incidents/:id',
      admin: true,
      handler: (req) => (store.discardDraft(req.params['id']!) ? json(200, { discarded: req.params['id'] }) : notFound('draft incident', req.params['id']!)),
    });
    this.route({
      method: 'POST',
      pattern: '/api/admin/maintenances',
      admin: true,
      handler: (req) => {
        const m = store.createMaintenance(parseNewMaintenance(parseJsonObject(req.body), known));
        return json(201, this.#maintenanceJson(m.id));
      },
    });
    const changeMaintenance = (req: StatusRequest, complete: boolean): StatusResponse => {
      const id = req.params['id']!;
      const current = store.maintenance(id);
      if (current === undefined) return notFound('maintenance', id);
      const change = parseMaintenanceChange(parseJsonObject(req.body), known, current);
      if (complete) change.status = 'completed';
      store.updateMaintenance(id, change);
      return json(200, this.#maintenanceJson(id));
    };
    this.route({ method: 'PATCH', pattern: '/api/admin/maintenances/:id', admin: true, handler: (req) => changeMaintenance(req, false) });
    this.route({ method: 'POST', pattern: '/api/admin/maintenances/:id/complete', admin: true, handler: (req) => changeMaintenance(req, true) });
    const override = (req: StatusRequest, clear: boolean): StatusResponse => {
      const id = req.params['id']!;
      if (!known.has(id)) return notFound('component', id);
      const status = clear ? null : parseOverride(parseJsonObject(req.body));
      store.setOverride(id, status);
      const c = this.#current().model.components.find((x) => x.id === id)!;
      return json(200, { component: id, override: status, status: c.status });
    };
    this.route({ method: 'PUT', pattern: '/api/admin/components/:id/override', admin: true, handler: (req) => override(req, false) });
    this.route({ method: 'DELETE', pattern: '/api/admin/components/:id/override', admin: true, handler: (req) => override(req, true) });
  }

  #maintenanceJson(id: string): unknown {
    const s = this.#current();
    const entry = s.model.maintenances.find((m) => m.maintenance.id === id)!;
    return s.v2.maintenance(entry.maintenance, entry.status);
  }

  #registerRoute(app: TemplatedApp, route: StatusRoute): void {
    const names = route.pattern.split('/').filter((seg) => seg.startsWith(':')).map((seg) => seg.slice(1));
    const register = { GET: app.get, POST: app.post, PUT: app.put, PATCH: app.patch, DELETE: app.del }[route.method].bind(app);
    register(route.pattern, (res, req) => this.#dispatch(route, names, res, req));
    // Every GET route answers HEAD with the same status and headers, without the body.
    if (route.method === 'GET' && !route.noHead) app.head(route.pattern, (res, req) => this.#dispatch(route, names, res, req));
  }

  /** Reads the request (auth first, then the body within the limit), runs the handler, answers. */
  #dispatch(route: StatusRoute, names: readonly string[], res: HttpResponse, req: HttpRequest): void {
    const headers = new Map<string, string>();
    if (this.#native) req.forEach((k, v) => headers.set(k, v));
    else for (const name of FALLBACK_HEADERS) headers.set(name, req.getHeader(name));
    const params: Record<string, string> = {};
    names.forEach((name, i) => (params[name] = decodeURIComponentSafe(req.getParameter(i) ?? '')));
    const path = req.getUrl();
    const query = new URLSearchParams(rawQuery(req));
    const client = this.#remoteClient(res);
    const method = req.getMethod().toUpperCase();
    const lengthHeader = headers.get('content-length') ?? '';
    const mayHaveBody = lengthHeader !== '' && lengthHeader !== '0' ? true : headers.has('transfer-encoding');
    const state = { aborted: false, answered: false, bodyPending: mayHaveBody };
    const answer = (r: StatusResponse): void => {
      if (state.aborted || state.answered) return;
      state.answered = true;
      const body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
      let etag: string | null = null;
      if (r.etag === true && r.status === 200) etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      const inm = headers.get('if-none-match') ?? '';
      const notModified = etag !== null && inm !== '' && etagMatches(inm, etag);
      res.cork(() => {
        res.writeStatus(notModified ? STATUS_LINE[304]! : (STATUS_LINE[r.status] ?? String(r.status)));
        res.writeHeader('content-type', r.contentType ?? JSON_TYPE).writeHeader('x-content-type-options', 'nosniff');
        if (etag !== null) res.writeHeader('etag', etag);
        if (route.admin === true) res.writeHeader('cache-control', 'no-store');
        for (const [k, v] of Object.entries(r.headers ?? {})) res.writeHeader(k, v);
        // Close when the body was not read, so its bytes are not taken for the next request.
        if (notModified) this.#endEmpty(res, state.bodyPending);
        else if (method === 'HEAD') this.#endHead(res, body.length);
        else res.end(body, state.bodyPending);
      });
    };
    res.onAborted(() => (state.aborted = true));

    if (route.admin === true) {
      // Limited before the token is checked, so a client out of failed attempts cannot keep guessing.
      const limited = this.#rateLimiter.admit(client);
      if (limited !== null) {
        this.#options.onAdminRateLimited?.(limited.reason);
        answer({
          status: 429,
          body: JSON.stringify({
            error: `rate limited by ${limited.limit}: ${limited.reason === 'requests' ? 'too many admin requests' : 'too many failed authentications'} from this client; retry after ${limited.retryAfterSeconds} s`,
            limit: limited.limit,
            retry_after_seconds: limited.retryAfterSeconds,
          }),
          headers: { 'retry-after': String(limited.retryAfterSeconds) },
        });
        return;
      }
      const verdict = this.#auth.check(headers.get('authorization') ?? '');
      if (verdict !== 'ok') {
        this.#rateLimiter.authFailed(client);
        const missing = verdict === 'missing';
        answer({
          status: missing ? 401 : 403,
          body: JSON.stringify({
            error: missing
              ? 'authentication required: send Authorization: Bearer <token>'
              : this.#auth.enabled
                ? 'the bearer token is not valid'
                : 'no admin token is configured: set status.admin_tokens or VIGIL_ADMIN_TOKEN',
          }),
          headers: missing ? { 'www-authenticate': 'Bearer realm="vigil-admin"' } : { 'www-authenticate': 'Bearer realm="vigil-admin", error="invalid_token"' },
        });
        return;
      }
    }
    const limit = this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const run = (body: Buffer): void => {
      state.bodyPending = false;
      let result: StatusResponse | Promise<StatusResponse>;
      try {
        result = route.handler({ method, path, params, query, header: (name) => headers.get(name.toLowerCase()) ?? '', body, client });
      } catch (err) {
        answer(this.#errorResponse(err, path));
        return;
      }
      if (result instanceof Promise) result.then(answer, (err: unknown) => answer(this.#errorResponse(err, path)));
      else answer(result);
    };
    if (!mayHaveBody || method === 'GET' || method === 'HEAD') {
      run(Buffer.alloc(0));
      return;
    }
    const declared = Number(lengthHeader);
    if (lengthHeader !== '' && (!Number.isSafeInteger(declared) || declared < 0)) {
      answer(json(400, { error: 'content-length: not a valid length', field: 'content-length' }));
      return;
    }
    if (declared > limit) {
      answer(json(413, { error: `body: larger than the limit of ${limit} bytes`, field: 'body' }));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    res.onData((chunk, isLast) => {
      if (state.answered || state.aborted) return;
      received += chunk.byteLength;
      if (received > limit) {
        answer(json(413, { error: `body: larger than the limit of ${limit} bytes`, field: 'body' }));
        return;
      }
      // Copy now: uWS reuses the chunk's memory after this callback.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) run(Buffer.concat(chunks));
    });
  }

  /** The rate-limit key of the peer; the pure-JS fallback cannot tell addresses, so all its clients share one. */
  #remoteClient(res: HttpResponse): string {
    try {
      return clientKey(Buffer.from(res.getRemoteAddressAsText()).toString());
    } catch {
      return 'unknown';
    }
  }

  /**
   * Ends a HEAD answer: headers and the Content-Length a GET would have, no body. This uWS build
   * aborts the process on endWithoutBody(n) with n > 0 and writes `Content-Length: 0` on end(), so
   * the length is written as a header and endWithoutBody() called without arguments (the one
   * combination that keeps the connection open for the next request: status.e2e.test.ts).
   */
  #endHead(res: HttpResponse, length: number): void {
    res.writeHeader('content-length', String(length));
    if (this.#native) res.endWithoutBody();
    else res.end();
  }

  /** A small answer (errors); for HEAD, its headers only. */
  #send(res: HttpResponse, head: boolean, status: number, contentType: string, body: string): void {
    res.cork(() => {
      res.writeStatus(STATUS_LINE[status] ?? String(status)).writeHeader('content-type', contentType).writeHeader('x-content-type-options', 'nosniff');
      if (head) this.#endHead(res, Buffer.byteLength(body));
      else res.end(body);
    });
  }

  /** Ends a 304 without a body (and without Content-Length: 0, where uWS can). */
  #endEmpty(res: HttpResponse, closeConnection: boolean): void {
    if (this.#native) res.endWithoutBody(0, closeConnection);
    else res.end(undefined, closeConnection);
  }

  #errorResponse(err: unknown, path: string): StatusResponse {
    if (err instanceof BadRequestError) return json(400, { error: err.message, field: err.field });
    // The data dir cannot take the change now (counted and logged once by the daemon's StorageHealth).
    if (err instanceof StorageUnavailableError) return { ...json(503, { error: err.message, code: err.code, reason: err.fault }), headers: { 'retry-after': '30' } };
    this.#options.logger?.error({ err, path }, 'status route failed');
    return json(500, { error: 'internal error' });
  }

  /** Stops the timer and the listener, closes WebSocket and idle connections. Idempotent; safe without start(). */
  shutdown(_deadlineMs = 1000): Promise<void> {
    this.#shutdown ??= (async () => {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#unsubscribe?.();
      if (!this.#started) return;
      if (this.#listenSocket !== null) {
        this.#uws!.us_listen_socket_close(this.#listenSocket);
        this.#listenSocket = null;
      }
      (this.#app as { close?: () => void } | null)?.close?.();
    })();
    return this.#shutdown;
  }
}

/** A path that names nothing (unknown component). */
class NotFound extends Error {}

function json(status: number, value: unknown): StatusResponse {
  return { status, body: JSON.stringify(value), contentType: JSON_TYPE };
}

/** If-None-Match: `*`, or a list of (weak or strong) tags, one of them ours. */
function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function hasBody(req: HttpRequest): boolean {
  const length = req.getHeader('content-length');
  return (length !== '' && length !== '0') || req.getHeader('transfer-encoding') !== '';
}

/** The raw query string; '' where the uWS fallback cannot parse it (it throws on a path-only URL). */
function rawQuery(req: HttpRequest): string {
  try {
    return req.getQuery() ?? '';
  } catch {
    return '';
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
