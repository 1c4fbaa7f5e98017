// Every request gets an id — the caller's X-Request-Id when it is a sane one,
// else a fresh uuid — echoed in the response, carried by a child logger on the
// context (c.get('log')), and one access log line: method, route template,
// status, duration, tenant. Never the path's values, the query, the body or a
// header at info: those hold params, idempotency keys and API keys. With
// LOG_LEVEL=debug a second line adds the path, query and parsed JSON body.
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { AppEnv, Auth } from '../env.ts';

const VALID_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** Probes and scrapes: logged at debug unless they fail, so they do not drown the rest. */
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function requestId(deps: { log: Logger; metrics: Pick<Metrics, 'httpRequest'> }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    const id = given && VALID_ID.test(given) ? given : randomUUID();
    const log = deps.log.child({ request_id: id });
    c.set('requestId', id);
    c.set('log', log);
    c.header('X-Request-Id', id);
    let threw = false;
    try {
      await next();
    } catch (err) {
      threw = true;
      throw err;
    } finally {
      const status = threw ? 500 : c.res.status;
      // A registered pattern (/v1/approvals/:id), never the raw path: bounded label values, no ids or keys.
      const route = routePath(c) || 'unmatched';
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      const seconds = (performance.now() - started) / 1000;
      deps.metrics.httpRequest(method, route, status, seconds);
      const fields = {
        method,
        route,
        status,
        duration_ms: Math.round(seconds * 1e6) / 1000,
        tenant_id: (c.get('auth') as Auth | undefined)?.tenant_id,
      };
      if (QUIET.has(route) && status < 500) log.debug('request', fields);
      else log.info('request', fields);
      if (log.isLevelEnabled?.('debug')) log.debug('request detail', { path: c.req.path, query: c.req.queries(), body: await parsedBody(c) });
      // A handler that returned its own Response did not get the header set above.
      if (!threw && !c.res.headers.get('x-request-id')) c.header('X-Request-Id', id);
    }
  };
}

/** The JSON body, only if the route already read it (Hono caches it as text): never reads a body itself. */
async function parsedBody(c: Context): Promise<unknown> {
  const text = await (c.req.bodyCache.text as Promise<string> | undefined)?.catch(() => undefined);
  if (!text || !/json/i.test(c.req.header('content-type') ?? '')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
