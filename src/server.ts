// `holdpoint start`: the API, the workers, or both, in one process, with a
// graceful shutdown on SIGTERM / SIGINT (stop accepting, end long-polls, close
// workers within a time limit, close pools).
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from './api/app.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { createWorkerConnection } from './queue/connection.ts';
import { createRuntime } from './runtime.ts';
import { startWorkers, type Workers } from '../workers/main.ts';

export interface Running {
  port: number | null;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger, roles: { api: boolean; worker: boolean }): Promise<Running> {
  const rt = createRuntime(config, log);
  let server: ServerType | undefined;
  let port: number | null = null;
  let workers: Workers | undefined;
  let workerConn: ReturnType<typeof createWorkerConnection> | undefined;

  if (roles.api) {
    await rt.notifier.start();
    const app = createApp(rt);
    port = await new Promise<number>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => resolve(info.port));
      s.once('error', reject);
      server = s;
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
      await rt.close();
      log.info('stopped');
    })());
  return { port, stop };
}
