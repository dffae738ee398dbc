// The DNS message encoder and decoder on hand-built messages (RFC 1035 §4): compression pointers,
// the record types compared as text, and malformed answers that must be refused, not crash.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DnsWireError, decodeResponse, encodeQuery } from './dns-wire.js';

/** A name as uncompressed labels. */
function name(text: string): Buffer {
  const parts = text.split('.').filter((l) => l !== '').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + 2 * i));
  return b;
}

function rr(owner: Buffer, type: number, ttl: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([owner, fixed, data]);
}

/** A pointer to offset 12 (the question's name). */
const PTR = Buffer.from([0xc0, 12]);

describe('dns-wire', () => {
  it('encodes a query with one question, RD set, class IN', () => {
    const q = encodeQuery(0x1234, 'www.example.com.', 28);
    assert.equal(q.toString('hex'), '123401000001000000000000' + name('www.example.com').toString('hex') + '001c0001');
  });

  it('decodes answers of every supported type, following compression pointers', () => {
    const question = Buffer.concat([name('example.com'), Buffer.from([0, 1, 0, 1])]);
    const mx = Buffer.concat([Buffer.from([0, 10]), Buffer.from([4]), Buffer.from('mail'), PTR]);
    const txt = Buffer.concat([Buffer.from([5]), Buffer.from('hello'), Buffer.from([6]), Buffer.from(' world')]);
    const aaaa = Buffer.from('20010db8000000000000000000000001', 'hex');
    const srv = Buffer.concat([Buffer.from([0, 1, 0, 2, 0x1f, 0x90]), PTR]);
    const msg = Buffer.concat([
      header(7, 0x8180, [1, 6, 1, 2]),
      question,
      rr(PTR, 1, 300, Buffer.from([127, 0, 0, 1])),
      rr(PTR, 28, 300, aaaa),
      rr(PTR, 15, 60, mx),
      rr(PTR, 16, 60, txt),
      rr(PTR, 5, 60, Buffer.concat([Buffer.from([3]), Buffer.from('www'), PTR])),
      rr(PTR, 33, 60, srv),
    ]);
    const r = decodeResponse(msg);
    assert.equal(r.id, 7);
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.authority, 1);
    assert.equal(r.additional, 2);
    assert.deepEqual(r.answers.map((a) => [a.name, a.type, a.data]), [
      ['example.com.', 'A', '127.0.0.1'],
      ['example.com.', 'AAAA', '2001:db8::1'],
      ['example.com.', 'MX', '10 mail.example.com.'],
      ['example.com.', 'TXT', 'hello world'],
      ['example.com.', 'CNAME', 'www.example.com.'],
      ['example.com.', 'SRV', '1 2 8080 example.com.'],
    ]);
  });

  it('reads the rcode (NXDOMAIN) of an answer without records', () => {
    const msg = Buffer.concat([header(9, 0x8183, [1, 0, 1, 0]), name('missing.test'), Buffer.from([0, 1, 0, 1])]);
    assert.equal(decodeResponse(msg).rcode, 'NXDOMAIN');
  });

  it('refuses malformed messages with DnsWireError', () => {
    const question = Buffer.concat([name('a.test'), Buffer.from([0, 1, 0, 1])]);
    const bad: [string, Buffer][] = [
      ['shorter than a header', Buffer.alloc(5)],
      ['a query, not a response', Buffer.concat([header(1, 0x0100, [1, 0, 0, 0]), question])],
      ['a pointer loop', Buffer.concat([header(1, 0x8180, [0, 1, 0, 0]), Buffer.from([0xc0, 12]), Buffer.alloc(10)])],
      ['a record past the end', Buffer.concat([header(1, 0x8180, [1, 1, 0, 0]), question, PTR, Buffer.from([0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2])])],
      ['an A record of 3 bytes', Buffer.concat([header(1, 0x8180, [1, 1, 0, 0]), question, rr(PTR, 1, 1, Buffer.from([1, 2, 3]))])],
      ['a label past the end', Buffer.concat([header(1, 0x8180, [1, 0, 0, 0]), Buffer.from([40, 65, 65])])],
    ];
    for (const [what, msg] of bad) assert.throws(() => decodeResponse(msg), DnsWireError, what);
  });
});
