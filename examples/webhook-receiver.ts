// A webhook receiver that verifies every delivery with the Standard Webhooks
// library and prints it. Receivers dedupe on webhook-id: retries reuse it.
//
//   WEBHOOK_SECRET=whsec_... npx tsx examples/webhook-receiver.ts   (listens on :9000)
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
if (!secret?.startsWith('whsec_')) {
  console.error('set WEBHOOK_SECRET to the tenant webhook secret (whsec_...)');
  process.exit(2);
}
const wh = new Webhook(secret);
const seen = new Set<string>();
const port = Number(process.env.PORT ?? 9000);

http
  .createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        const event = wh.verify(body, req.headers as Record<string, string>) as { type: string; data: { id: string; status: string; decided_by: string | null } };
        const id = req.headers['webhook-id'] as string;
        const dup = seen.has(id);
        seen.add(id);
        console.log(`${dup ? '(duplicate) ' : ''}${event.type}  approval=${event.data.id}  status=${event.data.status}  by=${event.data.decided_by ?? '-'}`);
        res.writeHead(204).end();
      } catch (err) {
        console.log(`rejected a delivery: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/hook`));
