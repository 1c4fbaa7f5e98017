// Builds the long-lived parts of a process from config: pools, queues, service.
// The CLI and the tests both use it, so tests run the real wiring.
import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { createSql, type Sql } from './db/client.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createProducerConnection } from './queue/connection.ts';
import { createQueues, type Queues } from './queue/queues.ts';
import { createApprovalService, type ApprovalService } from './services/approvals.ts';
import { createNotifier, type Notifier } from './services/notifier.ts';
import { createPolicyStore, type PolicyStore } from './services/policies.ts';
import { createQuestionService, type QuestionService } from './services/questions.ts';
import { createCounterStore, type CounterStore } from './services/counters.ts';
import { createEvaluator, type Evaluator } from './services/evaluator.ts';
import { createSlackClient, type SlackApi } from './slack/client.ts';
import type { Keyring } from './secrets/keyring.ts';
import { loadKeyring } from './secrets/key-source.ts';

export interface Runtime {
  config: Config;
  sql: Sql;
  redis: Redis;
  queues: Queues;
  policies: PolicyStore;
  notifier: Notifier;
  service: ApprovalService;
  evaluator: Evaluator;
  counters: CounterStore;
  questions: QuestionService;
  /** Slack Web API, or null when SLACK_BOT_TOKEN is not set. */
  slack: SlackApi | null;
  /** Seals and opens secrets at rest (webhook signing secrets, OIDC client secrets). */
  secrets: Keyring;
  log: Logger;
  /** This runtime's Prometheus registry and instruments (GET /metrics). */
  metrics: Metrics;
  clock: () => Date;
  close(): Promise<void>;
}

export function createRuntime(config: Config, log: Logger, clock: () => Date = () => new Date(), secrets: Keyring = loadKeyring(config, log)): Runtime {
  const sql = createSql(config.DATABASE_URL, { max: config.HOLDPOINT_DB_POOL });
  const redis = createProducerConnection(config.REDIS_URL);
  redis.on('error', (err) => log.debug('redis producer connection error', { err }));
  const queues = createQueues(redis, config.HOLDPOINT_QUEUE_PREFIX, { maxAttempts: config.HOLDPOINT_WEBHOOK_MAX_ATTEMPTS + 5 });
  const policies = createPolicyStore(sql, clock);
  const notifier = createNotifier(sql, log);
  const metrics = createMetrics({ sql, queues, log });
  const counters = createCounterStore(redis, config.HOLDPOINT_QUEUE_PREFIX);
  const evaluator = createEvaluator({ policies, counters, log, clock });
  const service = createApprovalService({ sql, queues, policies, notifier, log, clock, evaluator, redisReady: () => redis.status === 'ready', slackEnabled: Boolean(config.SLACK_BOT_TOKEN), metrics });
  const slack = createSlackClient(config);
  const questions = createQuestionService({ sql, queues, policies, log, clock, slackEnabled: Boolean(config.SLACK_BOT_TOKEN), redisReady: () => redis.status === 'ready' });
  return {
    config,
    slack,
    secrets,
    questions,
    evaluator,
    counters,
    sql,
    redis,
    queues,
    policies,
    notifier,
    service,
    log,
    metrics,
    clock,
    async close() {
      await notifier.close();
      await queues.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
