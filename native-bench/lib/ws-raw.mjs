// A minimal WebSocket client for counting broadcasts: the RFC 6455 handshake over node:net, then the
// raw byte stream searched for a marker. No framing objects, no UTF-8 validation: thousands of these
// cost the load generator little, so a broadcast benchmark measures the server, not the clients.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

/** Opens a client on ws://host:port/path; resolves once the 101 answer and a first frame arrived. */
export function openRawClient(host, port, path) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const client = { socket, marker: null, onMarker: null, tail: Buffer.alloc(0) };
    let upgraded = false;
    let pending = Buffer.alloc(0);
    socket.once('error', reject);
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('data', (chunk) => {
      if (!upgraded) {
        pending = Buffer.concat([pending, chunk]);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!pending.subarray(0, 12).toString().includes('101')) return reject(new Error(`handshake refused: ${pending.subarray(0, 40)}`));
        upgraded = true;
        // The first frame (the snapshot sent on open) may follow in the same chunk.
        if (pending.length > end + 4) resolve(client);
        else socket.once('data', () => resolve(client));
        return;
      }
      if (client.marker === null) return;
      // Search this chunk with the previous one's tail, so a marker split across chunks is found.
      const hay = client.tail.length > 0 ? Buffer.concat([client.tail, chunk]) : chunk;
      if (hay.indexOf(client.marker) >= 0) {
        const cb = client.onMarker;
        client.marker = null;
        cb?.();
      } else client.tail = hay.subarray(Math.max(0, hay.length - 128));
    });
  });
}
