// Loads uWebSockets.js and says whether its native binary is in use. The pinned package
// (@trufflesuite/uws-js-unofficial) silently falls back to a slow pure-JS implementation when the
// binary for this platform and Node ABI cannot be loaded, or when UWS_USE_FALLBACK is set; Vigil
// refuses to serve on that fallback unless VIGIL_ALLOW_UWS_FALLBACK=1 says so (see README).

import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import type { TlsFiles } from './types.js';
import { VigilError } from '../errors.js';

/** The loaded module and where it came from. */
export interface UwsModule {
  uws: typeof Uws;
  /** True when the exports are those of the native `.node` binary. */
  native: boolean;
  /** The binary's path when native; otherwise why the fallback was used (as far as can be told). */
  detail: string;
}

const require = createRequire(import.meta.url);
let loaded: UwsModule | undefined;

/** The binary file name uws.js tries for this process: uws_<platform>_<arch>_<ABI>.node. */
export function nativeBinaryName(): string {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

/** Loads uWebSockets.js once and checks, from the module cache, that its exports are the native binary's. */
export function loadUws(): UwsModule {
  if (loaded !== undefined) return loaded;
  const uws = require('uWebSockets.js') as typeof Uws;
  const name = nativeBinaryName();
  // uws.js returns require('../binaries/<name>') itself when the binary loads, so the cache entry
  // of that path holds the very same object; the fallback is ../dist/index.js instead.
  const binaryPath = Object.keys(require.cache).find((path) => path.endsWith(`/binaries/${name}`) || path.endsWith(`\\binaries\\${name}`));
  const native = binaryPath !== undefined && require.cache[binaryPath]?.exports === uws;
  let detail: string;
  if (native) detail = binaryPath!;
  else if (/^(1|true)$/i.test(process.env['UWS_USE_FALLBACK'] ?? '')) detail = 'UWS_USE_FALLBACK is set';
  else detail = `no loadable ${name} for this platform and Node.js ABI`;
  loaded = { uws, native, detail };
  return loaded;
}

/** Whether the operator accepted the fallback (VIGIL_ALLOW_UWS_FALLBACK=1). */
export function fallbackAllowed(): boolean {
  return /^(1|true)$/i.test(process.env['VIGIL_ALLOW_UWS_FALLBACK'] ?? '');
}

/** A plaintext or TLS uWS app; a TLS file it cannot load fails with the file named. */
export function createUwsApp(uws: typeof Uws, tls: TlsFiles | null, what: string): Uws.TemplatedApp {
  if (tls === null) return uws.App();
  if (tls.clientCaFile !== null) throw new Error(`${what}: client certificates cannot be required on a uWebSockets.js listener`);
  try {
    return uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
  } catch (err) {
    throw new VigilError(
      `cannot set up TLS for ${what} with cert_file ${tls.certFile} and key_file ${tls.keyFile} (not PEM, or the key does not match the certificate): ${(err as Error).message}`,
      'VIGIL_TLS_UNUSABLE',
      { cause: err },
    );
  }
}
