// A small WebSocket client that lives for an hour: the RFC 6455 handshake over node:net, then a
// frame parser that answers the server's pings with pongs (as a browser does; uWS closes a client
// that stays silent past its idle timeout) and searches text frames for a marker. lib/ws-raw.mjs
// is cheaper but never answers a ping, so it only suits runs shorter than the idle timeout.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

const OP_TEXT = 0x1;
const OP_CONT = 0x0;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;

/** A masked client frame (clients must mask, RFC 6455 §5.3); payloads here are small. */
function clientFrame(opcode, payload) {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

/**
 * Opens ws://host:port/path; resolves once upgraded. The client counts `frames` and `pings`,
 * calls `client.onMarker()` once when a text frame containing `client.marker` arrives (then clears
 * the marker), and `closed` tells whether the server or the network ended it.
 */
export function openFramedClient(host, port, path) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const client = { socket, marker: null, onMarker: null, frames: 0, pings: 0, closed: false, closeCode: null };
    let upgraded = false;
    let buf = Buffer.alloc(0);
    let message = [];
    socket.once('error', reject);
    socket.on('close', () => { client.closed = true; });
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const onFrame = (opcode, fin, payload) => {
      if (opcode === OP_PING) {
        client.pings++;
        socket.write(clientFrame(0xa, payload));
        return;
      }
      if (opcode === OP_CLOSE) {
        client.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
        socket.end();
        return;
      }
      if (opcode !== OP_TEXT && opcode !== OP_CONT) return;
      message.push(payload);
      if (!fin) return;
      client.frames++;
      const text = message.length === 1 ? message[0] : Buffer.concat(message);
      message = [];
      if (client.marker !== null && text.indexOf(client.marker) >= 0) {
        const cb = client.onMarker;
        client.marker = null;
        cb?.();
      }
    };
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString().includes('101')) return reject(new Error(`handshake refused: ${buf.subarray(0, 40)}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve(client);
      }
      // Server frames are unmasked.
      for (;;) {
        if (buf.length < 2) return;
        const fin = (buf[0] & 0x80) !== 0;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        onFrame(opcode, fin, payload);
      }
    });
  });
}
