// Once per `vitest run` of the integration project: this run's own migrated
// template (each test file clones it), a name prefix for everything the run
// creates, and a teardown that removes exactly that. Two runs on one machine
// never touch each other's databases or Redis keys (test/helpers/test-run.ts).
import type { TestProject } from 'vitest/node';
import { startTestRun } from './test-run.ts';

export default async function setup(project: Pick<TestProject, 'provide'>) {
  const started = await startTestRun();
  project.provide('holdpointTestRun', started.run);
  return async () => {
    await started.teardown();
  };
}
