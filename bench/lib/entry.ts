// How every bench entry point (run, ab, profile) ends: stop the children it
// started, close its HTTP agents and CPU samplers, drop its databases and
// Redis keys, exit with its code — also on SIGINT / SIGTERM.
import { RUN_ID, SHARED_REDIS } from './config.ts';
import { closeCpu } from './cpu.ts';
import { dropAllDatabases } from './db.ts';
import { closeHttp } from './http.ts';
import { killAllChildren } from './processes.ts';
import { deletePrefix } from './redis.ts';

export async function cleanup(): Promise<void> {
  killAllChildren();
  closeHttp();
  await closeCpu().catch(() => undefined);
  await dropAllDatabases();
  await deletePrefix(SHARED_REDIS, RUN_ID).catch(() => undefined);
}

export function runEntry(main: () => Promise<number>): void {
  let exiting = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (exiting) return;
      exiting = true;
      console.error(`\n${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  main()
    .catch((err) => {
      console.error(err);
      return 1;
    })
    .then(async (code) => {
      await cleanup();
      process.exit(code);
    });
}
