// The webhook receiver: records every delivery it accepts, checks each
// signature with the `standardwebhooks` library on arrival (its tolerance is
// ±5 min, so it cannot be checked later), and answers a seeded share of
// requests with 503 so retries happen too.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Rng } from './rng.ts';

export interface Delivery {
  path: string;
  webhookId: string;
  /** The body's `id` (must equal webhookId). */
  bodyId: string;
  type: string;
  approvalId: string;
  status: string;
  verified: boolean;
  at: number;
}

export interface ChaosReceiver {
  url(path: string): string;
  deliveries: Delivery[];
  /** Requests answered 503 on purpose. */
  refused: number;
  setSecret(secret: string): void;
  close(): Promise<void>;
}

export async function startChaosReceiver(rng: Rng, failShare: number): Promise<ChaosReceiver> {
  const deliveries: Delivery[] = [];
  let hook: Webhook | undefined;
  const state = { refused: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (rng.chance(failShare)) {
        state.refused++;
        res.writeHead(503).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const h = req.headers as Record<string, string>;
      let verified = false;
      try {
        hook?.verify(body, { 'webhook-id': h['webhook-id']!, 'webhook-timestamp': h['webhook-timestamp']!, 'webhook-signature': h['webhook-signature']! });
        verified = Boolean(hook);
      } catch {
        verified = false;
      }
      let json: { id?: string; type?: string; data?: { id?: string; status?: string } } = {};
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as unparseable below
      }
      deliveries.push({
        path: req.url ?? '/',
        webhookId: h['webhook-id'] ?? '',
        bodyId: json.id ?? '',
        type: json.type ?? 'unparseable',
        approvalId: json.data?.id ?? '',
        status: json.data?.status ?? '',
        verified,
        at: Date.now(),
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    deliveries,
    get refused() {
      return state.refused;
    },
    setSecret(secret) {
      hook = new Webhook(secret);
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
