// The webhook receiver: answers 204 at once and timestamps each arrival
// (performance.now(), the orchestrator's clock) by event type and approval id.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receiver {
  url: string;
  /** First arrival per `${type}:${approvalId}`. */
  arrivals: Map<string, number>;
  /** Distinct webhook-id headers seen, and total requests. */
  uniqueIds(): number;
  total(): number;
  count(type: string): number;
  waitFor(key: string, timeoutMs: number): Promise<number | undefined>;
  reset(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const ids = new Set<string>();
  const byType = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  let total = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      total++;
      const id = req.headers['webhook-id'];
      try {
        const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; id?: string; data: { id: string } };
        ids.add(typeof id === 'string' ? id : (j.id ?? `${total}`));
        const key = `${j.type}:${j.data.id}`;
        if (!arrivals.has(key)) {
          arrivals.set(key, at);
          byType.set(j.type, (byType.get(j.type) ?? 0) + 1);
          const w = waiters.get(key);
          if (w) {
            waiters.delete(key);
            w(at);
          }
        }
      } catch {
        // not JSON: counted in total only
      }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    uniqueIds: () => ids.size,
    total: () => total,
    count: (type) => byType.get(type) ?? 0,
    waitFor(key, timeoutMs) {
      const seen = arrivals.get(key);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiters.delete(key);
          resolve(undefined);
        }, timeoutMs);
        waiters.set(key, (at) => {
          clearTimeout(t);
          resolve(at);
        });
      });
    },
    reset() {
      arrivals.clear();
      ids.clear();
      byType.clear();
      total = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
