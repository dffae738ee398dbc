// DNS probes: one query over UDP to the configured server, the response checked for its id,
// rcode and (optionally) answers. A socket per run, so a late answer can never be mistaken for
// the next run's.

import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { FAILURES } from './errors.js';
import { decodeResponse, encodeQuery } from './dns-wire.js';
import { settleOnce } from './settle.js';
import type { DnsTarget, ProbeOutcome } from './types.js';

/** Runs one DNS probe into `out`; never rejects. */
export function runDns(target: DnsTarget, signal: AbortSignal, out: ProbeOutcome): Promise<void> {
  return new Promise((resolvePromise) => {
    const id = randomInt(0, 65_536);
    const socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    const run = settleOnce<void>(out, signal, () => socket.close(), resolvePromise, undefined);
    const onAbort = (): void => run.fail(FAILURES.timeout.code, 'no answer before the timeout');
    socket.on('error', (err) => run.fail(FAILURES.connect.code, err.message));
    socket.on('message', (msg, rinfo) => {
      // Answers from elsewhere, or to another id, are ignored (as a resolver would) until the timeout.
      if (rinfo.port !== target.port || msg.length < 2 || msg.readUInt16BE(0) !== id) return;
      out.connected = true;
      out.ip = rinfo.address;
      let response;
      try {
        response = decodeResponse(msg);
      } catch (err) {
        return run.fail(FAILURES.dns.code, `malformed answer: ${(err as Error).message}`);
      }
      out.dnsRcode = response.rcode;
      out.dnsAnswers = response.answers.length;
      out.dnsAuthority = response.authority;
      out.dnsAdditional = response.additional;
      out.body = response.answers.map((a) => a.data).join('\n');
      out.bodyBytes = out.body.length;
      if (response.rcode !== target.rcode) return run.fail(FAILURES.dns.code, `rcode ${response.rcode}, expected ${target.rcode}`);
      for (const re of target.answers) {
        if (!response.answers.some((a) => re.test(a.data))) return run.fail(FAILURES.dns.code, `no answer matches ${String(re)}`);
      }
      run.succeed();
    });
    if (!run.watch(onAbort)) return;
    socket.send(encodeQuery(id, target.name, target.typeCode), target.port, target.host, (err) => {
      if (err) run.fail(FAILURES.connect.code, err.message);
    });
  });
}
