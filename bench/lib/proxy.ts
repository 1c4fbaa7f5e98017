// Counting TCP proxies for the round-trip count: one in front of Postgres,
// one in front of Redis. They parse only enough of each protocol to count
// statements (Postgres Execute / simple Query messages) and commands (Redis
// RESP arrays, by name), and count round trips as turns: on each connection,
// every time the client sends after the server has answered. Pipelined
// statements in one write are one turn, as they are one network wait.
import net from 'node:net';

export interface Counts {
  connections: number;
  turns: number;
  /** Postgres: statements executed (Execute + simple Query); Redis: commands. */
  statements: number;
  byName: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
}

export interface CountingProxy {
  port: number;
  snapshot(): Counts;
  close(): Promise<void>;
}

type Parser = (chunk: Buffer, c: Counts) => void;

/** Frontend (client → server) Postgres messages: an untyped startup, then type byte + int32 length. */
function pgParser(): Parser {
  let buf: Buffer = Buffer.alloc(0);
  let startup = true;
  return (chunk, c) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      if (startup) {
        if (buf.length - off < 8) break;
        const len = buf.readInt32BE(off);
        if (buf.length - off < len) break;
        const code = buf.readInt32BE(off + 4);
        off += len;
        if (code !== 80877103 && code !== 80877104) startup = false; // SSL / GSS requests are followed by the real startup
        continue;
      }
      if (buf.length - off < 5) break;
      const type = String.fromCharCode(buf[off]!);
      const len = buf.readInt32BE(off + 1);
      if (buf.length - off < 1 + len) break;
      off += 1 + len;
      c.byName[type] = (c.byName[type] ?? 0) + 1;
      if (type === 'E' || type === 'Q') c.statements++;
    }
    buf = buf.subarray(off);
  };
}

/** Client → server RESP: arrays of bulk strings; counts commands by name. */
function redisParser(): Parser {
  let buf: Buffer = Buffer.alloc(0);
  const line = (b: Buffer, from: number): [string, number] | null => {
    const i = b.indexOf('\r\n', from);
    return i < 0 ? null : [b.toString('latin1', from, i), i + 2];
  };
  return (chunk, c) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let off = 0;
    outer: for (;;) {
      if (off >= buf.length) break;
      const head = line(buf, off);
      if (!head) break;
      if (!head[0].startsWith('*')) {
        off = head[1]; // inline command
        c.statements++;
        continue;
      }
      const n = Number(head[0].slice(1));
      let p = head[1];
      let name = '';
      for (let i = 0; i < n; i++) {
        const l = line(buf, p);
        if (!l) break outer;
        const len = Number(l[0].slice(1));
        if (buf.length < l[1] + len + 2) break outer;
        if (i === 0) name = buf.toString('latin1', l[1], l[1] + len).toUpperCase();
        p = l[1] + len + 2;
      }
      off = p;
      c.statements++;
      c.byName[name] = (c.byName[name] ?? 0) + 1;
    }
    buf = buf.subarray(off);
  };
}

export async function startCountingProxy(kind: 'postgres' | 'redis', target: { host: string; port: number }): Promise<CountingProxy> {
  const counts: Counts = { connections: 0, turns: 0, statements: 0, byName: {}, bytesUp: 0, bytesDown: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    counts.connections++;
    const upstream = net.connect(target.port, target.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const parse = kind === 'postgres' ? pgParser() : redisParser();
    let serverSpoke = true;
    client.on('data', (d: Buffer) => {
      counts.bytesUp += d.length;
      if (serverSpoke) counts.turns++;
      serverSpoke = false;
      parse(d, counts);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      counts.bytesDown += d.length;
      serverSpoke = true;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    snapshot: () => ({ ...counts, byName: { ...counts.byName } }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** b − a, per unit. */
export function perUnit(a: Counts, b: Counts, units: number) {
  const names: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.byName)) {
    const d = (v - (a.byName[k] ?? 0)) / units;
    if (d > 0.001) names[k] = Math.round(d * 100) / 100;
  }
  return {
    turns: Math.round(((b.turns - a.turns) / units) * 100) / 100,
    statements: Math.round(((b.statements - a.statements) / units) * 100) / 100,
    by_name: names,
    bytes_up: Math.round((b.bytesUp - a.bytesUp) / units),
    bytes_down: Math.round((b.bytesDown - a.bytesDown) / units),
  };
}
