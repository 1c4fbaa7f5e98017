// Once per `vitest run` of the integration project: the Postgres and Redis the
// run uses (test/helpers/test-services.ts: the configured ones, the machine's,
// or embedded ones started for this run), this run's own migrated template
// (each test file clones it), a name prefix for everything the run creates, and
// a teardown that removes exactly that. Two runs on one machine never touch each
// other's databases or Redis keys (test/helpers/test-run.ts).
import type { TestProject } from 'vitest/node';
import { startTestServices } from './test-services.ts';

export default async function setup(project: Pick<TestProject, 'provide'>) {
  const services = await startTestServices();
  try {
    // Imported only now: test/helpers/env.ts reads TEST_DATABASE_URL / TEST_REDIS_URL as it
    // loads, and startTestServices has just set them.
    const { startTestRun } = await import('./test-run.ts');
    const started = await startTestRun({ adminUrl: services.adminUrl, redisUrl: services.redisUrl });
    project.provide('holdpointTestRun', started.run);
    return async () => {
      try {
        await started.teardown();
      } finally {
        await services.stop();
      }
    };
  } catch (err) {
    await services.stop();
    throw err;
  }
}
