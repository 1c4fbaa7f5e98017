// A small keep-alive HTTP client for sequential measurements (the load
// scenarios use autocannon in a child process instead).
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Reply<T = any> {
  status: number;
  json: T;
}

export function request<T = any>(method: string, url: string, opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    if (data !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(data);
    }
    const req = http.request(url, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let json: any;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

export async function must<T = any>(method: string, url: string, opts: Parameters<typeof request>[2] = {}): Promise<T> {
  const r = await request<T>(method, url, opts);
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${url} → ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

export function closeHttp(): void {
  agent.destroy();
}
