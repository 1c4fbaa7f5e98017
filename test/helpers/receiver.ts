// A webhook receiver on loopback that records every request, verifies nothing
// itself (tests do, with the standardwebhooks library), and answers with a
// status the test chooses.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  json: { type: string; id: string; created_at: string; data: Record<string, unknown> & { id: string; status: string } };
  at: number;
}

export async function startReceiver(port = 0) {
  const received: Received[] = [];
  let respond: (r: { path: string; count: number }) => number = () => 200;
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      const status = respond({ path, count: n });
      if (status >= 200 && status < 300) {
        let json: Received['json'];
        try {
          json = JSON.parse(body);
        } catch {
          json = { type: 'unparseable', id: '', created_at: '', data: { id: '', status: '' } };
        }
        received.push({ path, headers: req.headers as Record<string, string>, body, json, at: Date.now() });
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const addr = server.address() as AddressInfo;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${addr.port}${path}`,
    port: addr.port,
    received,
    /** Choose the HTTP status per request (default 200; non-2xx requests are not recorded). */
    setResponder(fn: (r: { path: string; count: number }) => number) {
      respond = fn;
    },
    attempts: (path: string) => counts.get(path) ?? 0,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeout?: number; interval?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeout ?? 10_000);
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}`);
    await new Promise((r) => setTimeout(r, opts.interval ?? 25));
  }
}

/**
 * A receiver that never finishes answering: it reads the request, then writes
 * its status line and headers one byte every `intervalMs`, forever. A socket
 * idle timeout never fires on it; only an overall deadline ends the attempt.
 */
export async function startDripReceiver(intervalMs: number) {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const stats = { connections: 0, open: 0, maxOpen: 0 };
  const head = `HTTP/1.1 200 OK\r\nx-slow: ${'a'.repeat(100_000)}`;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    stats.connections++;
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    let i = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(head[i++ % head.length]!);
    }, intervalMs);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      stats.open--;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/drip') => `http://127.0.0.1:${port}${path}`,
    stats,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
