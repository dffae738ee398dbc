// A small DNS message encoder (one question, RD set) and response decoder (RFC 1035 §4, name
// compression, the record types probes compare as text). Anything malformed throws DnsWireError.

/** Record types by name (RFC 1035, 3596, 2782, 6844). */
export const RR_TYPES: Readonly<Record<string, number>> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, CAA: 257, ANY: 255,
};

const TYPE_NAMES = new Map<number, string>(Object.entries(RR_TYPES).map(([k, v]) => [v, k]));

/** Response code names by number (RFC 1035, 2136). */
export const RCODE_NAMES: readonly string[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** A response that does not parse. */
export class DnsWireError extends Error {}

/** One decoded resource record; `data` is its presentation text (`127.0.0.1`, `10 mail.example.`). */
export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  data: string;
}

export interface DnsResponse {
  id: number;
  rcode: string;
  truncated: boolean;
  answers: DnsRecord[];
  authority: number;
  additional: number;
}

/** A query for `name` of `type` (a number) with id `id`, recursion desired. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  parts.push(header);
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length > 63) throw new DnsWireError(`label longer than 63 bytes: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(1, 3); // class IN
  parts.push(tail);
  return Buffer.concat(parts);
}

/** Reads a (possibly compressed) name at `offset`; returns it and the offset after it in the message. */
function readName(msg: Buffer, offset: number): [string, number] {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  for (let jumps = 0; ; ) {
    if (pos >= msg.length) throw new DnsWireError('name runs past the end of the message');
    const len = msg[pos]!;
    if (len === 0) {
      pos++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new DnsWireError('truncated compression pointer');
      if (++jumps > 64) throw new DnsWireError('compression pointer loop');
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsWireError(`unsupported label type 0x${len.toString(16)}`);
    if (pos + 1 + len > msg.length) throw new DnsWireError('label runs past the end of the message');
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return [`${labels.join('.')}.`, end < 0 ? pos : end];
}

function rdataText(msg: Buffer, type: number, start: number, length: number): string {
  const end = start + length;
  switch (type) {
    case 1:
      if (length !== 4) throw new DnsWireError('A record of the wrong length');
      return `${msg[start]}.${msg[start + 1]}.${msg[start + 2]}.${msg[start + 3]}`;
    case 28: {
      if (length !== 16) throw new DnsWireError('AAAA record of the wrong length');
      const groups: string[] = [];
      for (let i = 0; i < 8; i++) groups.push(msg.readUInt16BE(start + 2 * i).toString(16));
      return compressIpv6(groups);
    }
    case 2: case 5: case 12:
      return readName(msg, start)[0];
    case 15:
      return `${msg.readUInt16BE(start)} ${readName(msg, start + 2)[0]}`;
    case 16: {
      const strings: string[] = [];
      for (let p = start; p < end; ) {
        const n = msg[p]!;
        strings.push(msg.toString('utf8', p + 1, Math.min(end, p + 1 + n)));
        p += 1 + n;
      }
      return strings.join('');
    }
    case 33:
      return `${msg.readUInt16BE(start)} ${msg.readUInt16BE(start + 2)} ${msg.readUInt16BE(start + 4)} ${readName(msg, start + 6)[0]}`;
    case 6: {
      const [mname, p1] = readName(msg, start);
      const [rname, p2] = readName(msg, p1);
      const nums = [0, 4, 8, 12, 16].map((o) => msg.readUInt32BE(p2 + o));
      return `${mname} ${rname} ${nums.join(' ')}`;
    }
    default:
      return msg.toString('hex', start, end);
  }
}

function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** Decodes a response; throws DnsWireError when it is malformed. */
export function decodeResponse(msg: Buffer): DnsResponse {
  if (msg.length < 12) throw new DnsWireError(`message of ${msg.length} bytes is shorter than a header`);
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) === 0) throw new DnsWireError('not a response (QR is 0)');
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    pos = readName(msg, pos)[1] + 4;
    if (pos > msg.length) throw new DnsWireError('question runs past the end of the message');
  }
  const answers: DnsRecord[] = [];
  for (let i = 0; i < an; i++) {
    const [name, after] = readName(msg, pos);
    if (after + 10 > msg.length) throw new DnsWireError('record header runs past the end of the message');
    const type = msg.readUInt16BE(after);
    const ttl = msg.readUInt32BE(after + 4);
    const length = msg.readUInt16BE(after + 8);
    const start = after + 10;
    if (start + length > msg.length) throw new DnsWireError('record data runs past the end of the message');
    answers.push({ name, type: TYPE_NAMES.get(type) ?? `TYPE${type}`, ttl, data: rdataText(msg, type, start, length) });
    pos = start + length;
  }
  const rcode = flags & 0x0f;
  return { id: msg.readUInt16BE(0), rcode: RCODE_NAMES[rcode] ?? `RCODE${rcode}`, truncated: (flags & 0x0200) !== 0, answers, authority: ns, additional: ar };
}
