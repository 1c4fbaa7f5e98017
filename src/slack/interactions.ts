// POST /slack/interactions: Approve / Reject clicks and the reject modal, and
// answers to questions (the Answer button, option buttons, the answer modal).
// The raw body is read and its v0 signature checked before anything parses it.
// Decisions go through the same service as the API; a refused click changes
// nothing, tells the clicker (ephemeral) and, for a non-approver, is recorded.
// Slack wants an answer within 3 s: the decision is one short transaction, and
// ephemeral messages are sent without waiting for them.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { ApprovalView } from '../approvals/render.ts';
import { getApprovalById } from '../db/approvals.ts';
import { approverBySlackUser } from '../db/approvers.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ApprovalService } from '../services/approvals.ts';
import type { PolicyStore } from '../services/policies.ts';
import type { Sql } from '../db/client.ts';
import { toProblems } from '../validation.ts';
import {
  ACTION_ANSWER,
  ACTION_ANSWER_OPTION,
  ACTION_APPROVE,
  ACTION_REJECT,
  ANSWER_ACTION,
  ANSWER_BLOCK,
  ANSWER_CALLBACK,
  REASON_ACTION,
  REASON_BLOCK,
  REJECT_CALLBACK,
  answerModal,
  rejectModal,
} from './blocks.ts';
import { getQuestionById } from '../db/questions.ts';
import { questionView, type QuestionService } from '../services/questions.ts';
import type { SlackApi } from './client.ts';
import type { ReplayGuard } from './replay.ts';
import { verifySlackSignature } from './verify.ts';

export interface InteractionDeps {
  sql: Sql;
  service: ApprovalService;
  questions: QuestionService;
  policies: PolicyStore;
  slack: SlackApi | null;
  signingSecret: string | undefined;
  /** SLACK_TEAM_ID: when set, interactions from any other workspace are refused (403). */
  teamId?: string | undefined;
  /** Remembers verified signatures, so a replayed request is refused (409). */
  replay?: ReplayGuard | undefined;
  log: Logger;
  clock: () => Date;
}

const User = z.object({ id: z.string().min(1), username: z.string().optional(), name: z.string().optional(), team_id: z.string().optional() });
// Null in org-wide (Enterprise Grid) installs, where the user's team_id says which workspace.
const Team = z.object({ id: z.string() }).nullish();

const BlockActions = z.object({
  type: z.literal('block_actions'),
  team: Team,
  user: User,
  trigger_id: z.string().optional(),
  channel: z.object({ id: z.string() }).optional(),
  container: z.object({ channel_id: z.string().optional(), message_ts: z.string().optional() }).optional(),
  actions: z
    .array(z.object({ action_id: z.string(), value: z.string().optional() }))
    .min(1),
});

const ViewSubmission = z.object({
  type: z.literal('view_submission'),
  team: Team,
  user: User,
  view: z.object({
    team_id: z.string().optional(),
    callback_id: z.string(),
    private_metadata: z.string(),
    state: z
      .object({ values: z.record(z.string(), z.record(z.string(), z.object({ value: z.string().nullish() }).passthrough())) })
      .optional(),
  }),
});

const Payload = z.discriminatedUnion('type', [BlockActions, ViewSubmission]);

const ApprovalId = z.string().uuid('the button value is not an approval id');

function invalid(err: z.ZodError): AppError {
  const problems = toProblems(err.issues);
  return new AppError('validation_failed', `interaction payload did not validate: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems });
}

function describeDecided(a: ApprovalView): string {
  const by = a.decided_by ? (a.decided_by.startsWith('slack:') ? `<@${a.decided_by.slice(6)}>` : a.decided_by) : 'someone';
  const when = a.decided_at ? ` at ${a.decided_at}` : '';
  switch (a.status) {
    case 'expired':
      return `This request expired${when}; it can no longer be decided.`;
    case 'cancelled':
      return `This request was cancelled by the agent${when}.`;
    default:
      return `This request was already ${a.status === 'executing' || a.status === 'completed' || a.status === 'failed' ? 'approved' : a.status} by ${by}${when}.`;
  }
}

/** The workspace a payload comes from, as Slack names it. */
function teamOf(p: z.infer<typeof Payload>): string | undefined {
  return p.team?.id ?? p.user.team_id ?? (p.type === 'view_submission' ? p.view.team_id : undefined);
}

export function slackInteractions(deps: InteractionDeps) {
  const app = new Hono();
  if (deps.signingSecret && !deps.teamId) {
    // Said once, at boot: the signing secret is per app, and one app can be installed in many workspaces.
    deps.log.warn('SLACK_TEAM_ID is not set: Slack interactions from any workspace with a valid signature are accepted');
  }

  /**
   * Slack user → approver identity: the approver record with this Slack user
   * (`holdpoint approver add … --slack-user U…`), else the policy's older
   * `slack_users` map, else slack:<user id> (a voice that no identity list names).
   */
  async function identityFor(tenantId: string, slackUserId: string): Promise<string> {
    const person = await approverBySlackUser(deps.sql, tenantId, slackUserId);
    if (person) return person.name;
    const { policy } = await deps.policies.current(tenantId);
    return policy.slack_users[slackUserId] ?? `slack:${slackUserId}`;
  }

  function tellClicker(channel: string | undefined, user: string, text: string): void {
    if (!deps.slack || !channel) return;
    deps.slack.postEphemeral({ channel, user, text }).catch((err) => deps.log.warn('ephemeral message failed', { err }));
  }

  /** A click from someone the route does not list: nothing changes, the attempt is on the record. */
  async function refuse(a: { id: string }, user: string, channel: string | undefined, why: string, text: string) {
    await deps.service.recordEvent(a.id, { type: 'slack_refused', actor: `slack:${user}`, channel: 'slack', data: { reason: why } });
    tellClicker(channel, user, text);
  }

  /** Answer / option buttons on a question (HumanLayer contact request). */
  async function handleQuestionAction(c: Context, p: z.infer<typeof BlockActions>) {
    const action = p.actions[0]!;
    const channel = p.channel?.id ?? p.container?.channel_id;
    const isOption = action.action_id.startsWith(`${ACTION_ANSWER_OPTION}_`);
    const [rawId, ...rest] = (action.value ?? '').split('|');
    const id = ApprovalId.safeParse(rawId);
    if (!id.success) throw invalid(id.error);
    const q = await getQuestionById(deps.sql, id.data);
    if (!q) throw new AppError('not_found', `question ${id.data} not found`);
    if (q.status !== 'pending') {
      tellClicker(channel, p.user.id, `This question was already answered by ${q.responded_by ?? 'someone'}.`);
      return c.body(null, 200);
    }
    if (!isOption) {
      if (deps.slack && p.trigger_id) await deps.slack.openView({ trigger_id: p.trigger_id, view: answerModal(q) });
      return c.body(null, 200);
    }
    const name = rest.join('|');
    const option = questionView(q).response_options.find((o) => o.name === name);
    if (!option) throw new AppError('validation_failed', `unknown response option "${name}"`, { field: 'actions.0.value' });
    try {
      await deps.questions.answer(null, { id: q.id }, { response: option.title ?? option.name, option: option.name, by: await identityFor(q.tenant_id, p.user.id), channel: 'slack' });
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'already_decided') throw err;
      tellClicker(channel, p.user.id, err.message);
    }
    return c.body(null, 200);
  }

  async function handleAction(c: Context, p: z.infer<typeof BlockActions>) {
    const action = p.actions[0]!;
    if (action.action_id === ACTION_ANSWER || action.action_id.startsWith(`${ACTION_ANSWER_OPTION}_`)) return handleQuestionAction(c, p);
    if (action.action_id !== ACTION_APPROVE && action.action_id !== ACTION_REJECT) {
      throw new AppError('validation_failed', `unknown action_id "${action.action_id}"`, { field: 'actions.0.action_id' });
    }
    const id = ApprovalId.safeParse(action.value);
    if (!id.success) throw invalid(id.error);
    const row = await getApprovalById(deps.sql, id.data);
    if (!row) throw new AppError('not_found', `approval ${id.data} not found`);
    const channel = p.channel?.id ?? p.container?.channel_id ?? row.slack_channel ?? undefined;
    const user = p.user.id;

    const allowedSlackUsers = row.routing?.approvers?.slack_user_ids ?? [];
    if (allowedSlackUsers.length > 0 && !allowedSlackUsers.includes(user)) {
      await refuse(row, user, channel, 'not_an_approver', 'You are not an approver for this request; nothing was changed.');
      return c.body(null, 200);
    }
    const approver = await identityFor(row.tenant_id, user);

    if (action.action_id === ACTION_REJECT) {
      // Check before opening the modal, so nobody types a reason that cannot count.
      const preview = await deps.service.previewVote(row.tenant_id, row.id, approver, 'reject');
      if (preview.refusal) {
        await onRefusal(preview.refusal.code, preview.approval, user, channel);
        return c.body(null, 200);
      }
      if (deps.slack && p.trigger_id) await deps.slack.openView({ trigger_id: p.trigger_id, view: rejectModal(preview.approval) });
      return c.body(null, 200);
    }

    try {
      await deps.service.decide(row.tenant_id, row.id, { decision: 'approve', approver, channel: 'slack' });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const current = (err.details as { approval?: ApprovalView } | undefined)?.approval;
      if (!current) throw err;
      await onRefusal(err.code, current, user, channel);
    }
    return c.body(null, 200);
  }

  async function onRefusal(code: string, a: ApprovalView, user: string, channel: string | undefined) {
    if (code === 'not_an_approver') return refuse(a, user, channel, 'not_an_approver', 'You are not an approver for this request; nothing was changed.');
    if (code === 'self_approval') return refuse(a, user, channel, 'self_approval', 'An agent cannot approve its own request.');
    tellClicker(channel, user, describeDecided(a));
  }

  async function handleAnswer(c: Context, p: z.infer<typeof ViewSubmission>) {
    const id = ApprovalId.safeParse(p.view.private_metadata);
    if (!id.success) throw invalid(id.error);
    const q = await getQuestionById(deps.sql, id.data);
    if (!q) throw new AppError('not_found', `question ${id.data} not found`);
    const text = p.view.state?.values?.[ANSWER_BLOCK]?.[ANSWER_ACTION]?.value?.trim();
    if (!text) return c.json({ response_action: 'errors', errors: { [ANSWER_BLOCK]: 'Type an answer first.' } });
    try {
      await deps.questions.answer(null, { id: q.id }, { response: text, by: await identityFor(q.tenant_id, p.user.id), channel: 'slack' });
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'already_decided') throw err;
      return c.json({ response_action: 'errors', errors: { [ANSWER_BLOCK]: err.message } });
    }
    return c.body(null, 200);
  }

  async function handleSubmission(c: Context, p: z.infer<typeof ViewSubmission>) {
    if (p.view.callback_id === ANSWER_CALLBACK) return handleAnswer(c, p);
    if (p.view.callback_id !== REJECT_CALLBACK) {
      throw new AppError('validation_failed', `unknown view callback_id "${p.view.callback_id}"`, { field: 'view.callback_id' });
    }
    const id = ApprovalId.safeParse(p.view.private_metadata);
    if (!id.success) throw invalid(id.error);
    const row = await getApprovalById(deps.sql, id.data);
    if (!row) throw new AppError('not_found', `approval ${id.data} not found`);
    const reason = p.view.state?.values?.[REASON_BLOCK]?.[REASON_ACTION]?.value?.trim() || undefined;
    const allowedSlackUsers = row.routing?.approvers?.slack_user_ids ?? [];
    if (allowedSlackUsers.length > 0 && !allowedSlackUsers.includes(p.user.id)) {
      await deps.service.recordEvent(row.id, { type: 'slack_refused', actor: `slack:${p.user.id}`, channel: 'slack', data: { reason: 'not_an_approver' } });
      return c.json({ response_action: 'errors', errors: { [REASON_BLOCK]: 'You are not an approver for this request.' } });
    }
    const approver = await identityFor(row.tenant_id, p.user.id);
    try {
      await deps.service.decide(row.tenant_id, row.id, { decision: 'reject', approver, reason, channel: 'slack' });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const current = (err.details as { approval?: ApprovalView } | undefined)?.approval;
      if (!current) throw err;
      if (err.code === 'not_an_approver' || err.code === 'self_approval') {
        await deps.service.recordEvent(row.id, { type: 'slack_refused', actor: `slack:${p.user.id}`, channel: 'slack', data: { reason: err.code } });
        return c.json({ response_action: 'errors', errors: { [REASON_BLOCK]: err.message } });
      }
      // Keep the modal open with the news: somebody else decided first.
      return c.json({ response_action: 'errors', errors: { [REASON_BLOCK]: describeDecided(current) } });
    }
    return c.body(null, 200);
  }

  app.post('/slack/interactions', async (c) => {
    if (!deps.signingSecret) throw new AppError('not_found', 'Slack is not configured on this server (SLACK_SIGNING_SECRET)');
    const raw = await c.req.text(); // the exact bytes Slack signed, before any parsing
    const check = verifySlackSignature({
      signingSecret: deps.signingSecret,
      timestamp: c.req.header('x-slack-request-timestamp'),
      signature: c.req.header('x-slack-signature'),
      rawBody: raw,
      nowSeconds: Math.floor(deps.clock().getTime() / 1000),
    });
    if (!check.ok) throw new AppError('unauthorized', `Slack signature check failed: ${check.reason}`);

    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      throw new AppError('unsupported_media_type', 'Slack interactions are application/x-www-form-urlencoded');
    }
    const field = new URLSearchParams(raw).get('payload');
    if (field === null) throw new AppError('validation_failed', 'the form has no payload field', { field: 'payload' });
    let json: unknown;
    try {
      json = JSON.parse(field);
    } catch {
      throw new AppError('malformed_json', 'the payload field is not JSON');
    }
    const p = Payload.safeParse(json);
    if (!p.success) throw invalid(p.error);
    if (deps.teamId) {
      const team = teamOf(p.data);
      if (team !== deps.teamId) {
        throw new AppError('forbidden', `this server accepts Slack interactions from workspace ${deps.teamId} only (this one is from ${team ?? 'no named workspace'})`, { team_id: team ?? null });
      }
    }
    // Last, so only a request we would act on is remembered.
    const signature = c.req.header('x-slack-signature')!;
    if ((await deps.replay?.claim(signature)) === 'replayed') {
      throw new AppError('request_replayed', 'this signed Slack request was already received; a replay is refused');
    }
    try {
      return await (p.data.type === 'block_actions' ? handleAction(c, p.data) : handleSubmission(c, p.data));
    } catch (err) {
      // Failed on our side (not the request's fault): let the same request be sent again.
      if (!(err instanceof AppError) || err.status >= 500) await deps.replay?.forget(signature);
      throw err;
    }
  });

  return app;
}
