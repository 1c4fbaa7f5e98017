import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Sql } from '../db/client.ts';
import type { Logger } from '../log.ts';
import type { Queues } from '../queue/queues.ts';
import type { ApprovalService } from '../services/approvals.ts';
import type { Notifier } from '../services/notifier.ts';
import type { FeedHub } from '../services/feeds.ts';
import type { OpenLimits } from './open-limits.ts';
import type { AddressLimiter } from '../services/address-limits.ts';
import type { PolicyStore } from '../services/policies.ts';
import type { QuestionService } from '../services/questions.ts';
import type { Keyring } from '../secrets/keyring.ts';
import type { SlackApi } from '../slack/client.ts';
import type { CounterStore } from '../services/counters.ts';
import type { Evaluator } from '../services/evaluator.ts';

/** Built by createApp for the routes: the live feeds' shared reader, the per-key caps, the per-address limits. */
export interface LiveDeps {
  feeds: FeedHub;
  limits: OpenLimits;
  addresses: AddressLimiter;
  /** HOLDPOINT_TRUSTED_PROXY_HOPS: how to find the client's address (src/api/client-address.ts). */
  trustedProxyHops: number;
}

export interface AppDeps {
  sql: Sql;
  redis: Redis;
  queues: Queues;
  service: ApprovalService;
  notifier: Notifier;
  questions: QuestionService;
  policies: PolicyStore;
  config: Pick<Config, 'HOLDPOINT_WEBHOOK_ALLOW_PRIVATE' | 'HOLDPOINT_MAX_BODY_BYTES' | 'SLACK_SIGNING_SECRET' | 'SLACK_TEAM_ID' | 'HOLDPOINT_QUEUE_PREFIX' | 'HOLDPOINT_UI_SESSION_HOURS' | 'HOLDPOINT_PUBLIC_URL' | 'HOLDPOINT_STREAM_HEARTBEAT_MS' | 'HOLDPOINT_STREAM_MAX_LIFETIME_MS'>;
  slack: SlackApi | null;
  secrets: Keyring;
  counters: CounterStore;
  evaluator: Evaluator;
  log: Logger;
  clock: () => Date;
}
