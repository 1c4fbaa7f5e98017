// holdpoint/client: the public surface of the SDK. Fetch only; nothing here
// loads the server's modules.
export { Holdpoint } from './client.ts';
export type { CheckOptions, GuardOptions, GuardRestOptions, GuardedOptions, HoldpointOptions, Reportable, ReportOptions, WaitOptions } from './client.ts';
export { ActionClaimed, ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, AuthError, ConnectionError, HoldpointError, InvalidRequest, ServerError } from './errors.ts';
export type { HoldpointErrorOptions } from './errors.ts';
export type { FetchLike } from './transport.ts';
export type { Usage, UsageOptions, UsageScope, UsageTotals } from './usage.ts';
export type { Approval, ApprovalStatus, Decision, Permit, Reason, Spent, Vote, WaitOption, WebhookEvent } from './types.ts';
// Replay mode: storage is injected, so nothing here touches a file (Node's file adapter: holdpoint/client/replay-file).
export { ReplayDivergence, memoryReplayStore } from './replay.ts';
export type { RecordedDecision, RecordedPermit, RecordedRefusal, ReplayAnswer, ReplayEntry, ReplayOptions, ReplayStore } from './replay.ts';
export { verifyWebhook } from './webhook.ts';
export type { VerifyOptions, WebhookHeaders } from './webhook.ts';
// Framework wrappers: OpenAI-style tool calls and Vercel AI SDK tool sets.
export { guardToolCall, runToolCall } from './integrations/openai.ts';
export type { OpenAIToolCall, OpenAIToolMessage, ToolCallGuardOptions, ToolCallResult } from './integrations/openai.ts';
export type { BlockedStatus } from './integrations/outcome.ts';
export { guardTools } from './integrations/vercel-ai.ts';
export type { BlockedToolCall, GuardToolsOptions, ToolLike } from './integrations/vercel-ai.ts';
