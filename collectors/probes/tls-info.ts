// What probes read from a TLS connection: the peer chain's expiry, and which errors are TLS ones.

import { readFileSync } from 'node:fs';
import type { PeerCertificate, DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { ProbeOutcome } from './types.js';

const caCache = new Map<string, Buffer>();

/** A probe's CA file, read once per process (the config checked it is readable). */
export function readCa(path: string): Buffer {
  let ca = caCache.get(path);
  if (ca === undefined) {
    ca = readFileSync(path);
    caCache.set(path, ca);
  }
  return ca;
}

/** Records, once the handshake is done, the chain's expiry and the TLS version in `out`. */
export function recordTls(socket: TLSSocket, out: ProbeOutcome): void {
  const expiry = chainExpiry(socket);
  out.certExpiryMs = expiry.earliestMs;
  out.leafExpiryMs = expiry.leafMs;
  out.tlsVersion = socket.getProtocol();
}

/**
 * notAfter of the leaf and the earliest notAfter in the chain the peer sent (blackbox_exporter's
 * probe_ssl_earliest_cert_expiry), ms since the epoch; null without a certificate.
 */
export function chainExpiry(socket: TLSSocket): { earliestMs: number | null; leafMs: number | null } {
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | PeerCertificate | null;
  if (leaf === null || leaf === undefined || Object.keys(leaf).length === 0) return { earliestMs: null, leafMs: null };
  const leafMs = Date.parse(leaf.valid_to);
  let earliest = leafMs;
  const seen = new Set<string>([leaf.fingerprint256]);
  let cert = (leaf as DetailedPeerCertificate).issuerCertificate;
  while (cert !== undefined && cert !== null && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const at = Date.parse(cert.valid_to);
    if (at < earliest) earliest = at;
    cert = cert.issuerCertificate;
  }
  return { earliestMs: Number.isNaN(earliest) ? null : earliest, leafMs: Number.isNaN(leafMs) ? null : leafMs };
}

/** OpenSSL and Node certificate-verification error codes (node:tls `err.code`). */
const TLS_CODES = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** A TLS failure's detail, or null when `err` is not about TLS. */
export function tlsFailure(err: NodeJS.ErrnoException): string | null {
  if (err.code !== undefined && TLS_CODES.test(err.code)) return `${err.code}: ${err.message}`;
  if (/certificate|ssl|tls/i.test(err.message) && err.code !== 'ECONNRESET' && err.code !== 'ECONNREFUSED') return err.message;
  return null;
}
