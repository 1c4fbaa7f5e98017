// `holdpoint start`: the API, the workers, or both, in one process, with a
// graceful shutdown on SIGTERM / SIGINT (stop accepting, end long-polls, close
// workers within a time limit, close pools).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from './api/app.ts';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import type { Logger } from './log.ts';
import { metricsAuthorized, type Metrics } from './metrics.ts';
import { createWorkerConnection } from './queue/connection.ts';
import { createRuntime } from './runtime.ts';
import type { Keyring } from './secrets/keyring.ts';
import { startWorkers, type Workers } from '../workers/main.ts';

export interface Running {
  port: number | null;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger, roles: { api: boolean; worker: boolean }, secrets?: Keyring): Promise<Running> {
  const rt = createRuntime(config, log, undefined, secrets);
  let server: ServerType | undefined;
  let port: number | null = null;
  let workers: Workers | undefined;
  let workerConn: ReturnType<typeof createWorkerConnection> | undefined;

  // A --worker process has no API port: this is how it is scraped. Bound first,
  // so a taken port fails the boot before any worker takes a job.
  let metricsServer: http.Server | undefined;
  if (config.HOLDPOINT_METRICS_PORT) {
    metricsServer = await serveMetrics(rt.metrics, config.HOLDPOINT_METRICS_PORT, config.HOST, config.HOLDPOINT_METRICS_TOKEN, log).catch(async (err: unknown) => {
      await rt.close();
      throw err;
    });
    log.info('metrics listening', { port: (metricsServer.address() as AddressInfo).port, host: config.HOST });
  }
  if (roles.api) {
    await rt.notifier.start();
    const app = createApp(rt);
    port = await new Promise<number>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => resolve(info.port));
      s.once('error', reject);
      server = s;
    }).catch(async (err: unknown) => {
      // A taken port: close what is open, so the process can exit with one line.
      await rt.notifier.close();
      metricsServer?.close();
      await rt.close();
      throw err;
    });
    log.info('api listening', { port, host: config.HOST });
  }
  if (roles.worker) {
    workerConn = createWorkerConnection(config.REDIS_URL);
    workerConn.on('error', (err) => log.debug('redis worker connection error', { err }));
    workers = await startWorkers({ ...rt, connection: workerConn });
    log.info('workers started', { prefix: config.HOLDPOINT_QUEUE_PREFIX });
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down');
      const closing = server ? new Promise<void>((r) => server!.close(() => r())) : Promise.resolve();
      // Long-polls answer now with the approval as it is; that lets server.close() finish.
      await rt.notifier.close();
      if ('closeIdleConnections' in (server ?? {})) (server as unknown as { closeIdleConnections(): void }).closeIdleConnections();
      await workers?.close(config.HOLDPOINT_SHUTDOWN_TIMEOUT_MS);
      await Promise.race([closing, new Promise((r) => setTimeout(r, config.HOLDPOINT_SHUTDOWN_TIMEOUT_MS).unref())]);
      workerConn?.disconnect();
      if (metricsServer) {
        const closed = new Promise<void>((r) => metricsServer!.close(() => r()));
        metricsServer.closeAllConnections();
        await closed;
      }
      await rt.close();
      log.info('stopped');
    })());
  return { port, stop };
}

/** GET /metrics and /healthz on their own port, with node:http (no Hono app in a worker process). */
function serveMetrics(metrics: Metrics, port: number, host: string, token: string | undefined, log: Logger): Promise<http.Server> {
  const json = (res: http.ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return json(res, 200, { ok: true });
    if (path !== '/metrics') return json(res, 404, new AppError('not_found', `no route for ${req.method} ${path}`).toJSON());
    if (!metricsAuthorized(req.headers.authorization, token)) {
      return json(res, 401, new AppError('unauthorized', 'GET /metrics needs Authorization: Bearer <HOLDPOINT_METRICS_TOKEN>').toJSON());
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (err: unknown) => {
        log.error('metrics scrape failed', { err });
        json(res, 500, new AppError('internal_error', 'internal error').toJSON());
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
