// The approval lifecycle's vocabulary. Pure.

export const STATUSES = [
  'pending',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'executing',
  'completed',
  'failed',
] as const;
export type Status = (typeof STATUSES)[number];

/** States from which nothing further can happen. */
export const TERMINAL: ReadonlySet<Status> = new Set(['rejected', 'expired', 'cancelled', 'completed', 'failed']);

/** Audit event types; the ones in WEBHOOK_EVENT_TYPES are also sent as webhooks. */
export const EVENT_TYPES = [
  'requested',
  'voted',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'claimed',
  'lease_lapsed',
  'completed',
  'failed',
  // Nothing changed, but it is on the record:
  'slack_refused', // a Slack click from someone who may not decide
  'slack_failed', // the Slack post failed for good
  'question_asked', // an agent asked a human a free-text question (HumanLayer contact request)
  'question_answered',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const WEBHOOK_EVENT_TYPES = [
  'approval.requested',
  'approval.approved',
  'approval.rejected',
  'approval.expired',
  'approval.cancelled',
  'approval.completed',
  'approval.failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function webhookTypeFor(event: EventType): WebhookEventType | undefined {
  const t = `approval.${event}`;
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(t) ? (t as WebhookEventType) : undefined;
}

export type OnTimeout = 'reject' | 'approve';
export type DecisionChannel = 'api' | 'slack' | 'web' | 'webhook' | 'timeout' | 'system';
