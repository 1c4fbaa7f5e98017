// Who is asking, for the per-address rate limits: the socket's peer address,
// or, only when the operator says the server is behind that many trusted
// proxies (HOLDPOINT_TRUSTED_PROXY_HOPS), the address those proxies recorded in
// X-Forwarded-For. Each proxy appends the address it received from, so with N
// trusted proxies the client is the Nth entry from the right; anything left of
// it is whatever the client chose to send.
//
// A request with no socket (an in-process app.request() without an env) has
// no address and is not limited; @hono/node-server always passes the socket.
import { isIP } from 'node:net';
import type { Context } from 'hono';

type NodeEnv = { incoming?: { socket?: { remoteAddress?: string } } } | undefined;

/** IPv4 as is (also when IPv4-mapped); IPv6 by its /64, since one host can easily hold a whole /64. */
export function addressKey(raw: string): string | undefined {
  const ip = raw.trim().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return undefined;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

export function clientAddress(c: Context, trustedProxyHops: number): string | undefined {
  const peer = (c.env as NodeEnv)?.incoming?.socket?.remoteAddress;
  if (peer === undefined) return undefined;
  if (trustedProxyHops > 0) {
    const chain = (c.req.header('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (chain.length > 0) return addressKey(chain[Math.max(0, chain.length - trustedProxyHops)]!) ?? addressKey(peer);
  }
  return addressKey(peer);
}
