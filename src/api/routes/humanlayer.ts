// A HumanLayer-compatible surface (/humanlayer/v1), speaking the shapes of the
// public `humanlayer` npm client (0.7.x), so an agent built on it works
// unchanged with HUMANLAYER_API_BASE pointed here. A function call is an
// approval (call_id = idempotency key, fn = action, kwargs = params) routed and
// decided like any other, Slack included; a contact request is a question with
// one typed answer. Bearer keys are Holdpoint keys.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApprovalView } from '../../approvals/render.ts';
import { getDecisionByKey } from '../../db/decisions.ts';
import type { QuestionRow } from '../../db/questions.ts';
import { AppError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv, Auth } from '../env.ts';
import { validationHook } from '../errors.ts';
import { allow } from '../middleware/auth.ts';
import { ownVoter } from '../../identities/voter.ts';
import { Ident, JsonObject, errorResponses, jsonBody, jsonResponse } from '../schemas.ts';

// Kept exactly as sent ("__proto__" included): kwargs become the approval's params.
const anyObject = JsonObject;

const Channel = z
  .object({ slack: z.object({ channel_or_user_id: z.string().min(1).max(200) }).passthrough().nullish() })
  .passthrough()
  .nullish();

const ResponseOption = z.object({ name: z.string().min(1).max(200) }).passthrough();

const FunctionCallBody = z.object({
  run_id: Ident(200),
  call_id: Ident(255),
  spec: z
    .object({
      fn: Ident(200),
      kwargs: anyObject.default({}),
      channel: Channel,
      reject_options: z.array(ResponseOption).max(20).nullish(),
      state: anyObject.nullish(),
    })
    .passthrough(),
});

const FunctionCallStatusBody = z
  .object({
    approved: z.boolean(),
    comment: z.string().max(2000).nullish(),
    reject_option_name: z.string().max(200).nullish(),
  })
  .passthrough();

const ContactBody = z.object({
  run_id: Ident(200),
  call_id: Ident(255),
  spec: z
    .object({
      msg: z.string().min(1).max(10_000),
      channel: Channel,
      response_options: z.array(ResponseOption).max(20).nullish(),
      state: anyObject.nullish(),
    })
    .passthrough(),
});

const ContactStatusBody = z
  .object({ response: z.string().min(1).max(10_000), response_option_name: z.string().max(200).nullish() })
  .passthrough();

const CallId = z.object({ call_id: Ident(255) });
const Out = z.object({}).passthrough();

interface StoredCall {
  run_id?: string;
  spec?: Record<string, unknown>;
}

const APPROVED = new Set(['approved', 'executing', 'completed', 'failed']);

/** An approval in the FunctionCall shape the humanlayer client reads. */
export function toFunctionCall(a: ApprovalView) {
  const hl = ((a.context as { humanlayer?: StoredCall }).humanlayer ?? {}) as StoredCall;
  const decided = a.status !== 'pending';
  return {
    run_id: hl.run_id ?? a.agent_id,
    call_id: a.idempotency_key,
    spec: { ...(hl.spec ?? {}), fn: a.action, kwargs: a.params },
    status: {
      requested_at: a.created_at,
      ...(decided
        ? {
            responded_at: a.decided_at,
            approved: APPROVED.has(a.status),
            comment: a.status === 'expired' ? (a.decision_reason ?? 'timed out') : (a.decision_reason ?? undefined),
            ...(a.decision_option ? { reject_option_name: a.decision_option } : {}),
          }
        : {}),
    },
  };
}

export function toHumanContact(q: QuestionRow) {
  return {
    run_id: q.run_id,
    call_id: q.call_id,
    spec: q.spec,
    status: {
      requested_at: q.created_at.toISOString(),
      ...(q.status === 'answered'
        ? {
            responded_at: q.responded_at?.toISOString(),
            response: q.response,
            ...(q.response_option_name ? { response_option_name: q.response_option_name } : {}),
          }
        : {}),
    },
  };
}

/**
 * The `spec` exactly as the agent sent it, once the body has validated. zod
 * builds passthrough objects by assignment, so a "__proto__" key would become
 * a prototype and vanish; JSON.parse (cached by Hono) keeps it as a plain key.
 */
async function sentSpec(c: Context): Promise<Record<string, unknown>> {
  return ((await c.req.json()) as { spec: Record<string, unknown> }).spec;
}

// A response is the authenticated key's vote (its bound approver, else key:<prefix>): never a name in the body.
const approverFor = (auth: Auth) => ownVoter(auth).approver;

export function humanlayerRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const base = '/humanlayer/v1';

  /** A denied call has no approval: it is answered from its decision. */
  async function byCallId(tenantId: string, callId: string) {
    const d = await getDecisionByKey(deps.sql, tenantId, callId);
    if (!d) throw new AppError('not_found', `no function call ${callId}`);
    if (d.approval_id) return toFunctionCall(await deps.service.get(tenantId, d.approval_id));
    const reasons = d.reasons.map((r) => (r as { message?: string }).message).filter(Boolean);
    return {
      run_id: d.agent_id,
      call_id: callId,
      spec: { fn: d.action, kwargs: {} },
      status: {
        requested_at: d.created_at.toISOString(),
        responded_at: d.created_at.toISOString(),
        approved: d.decision === 'allow',
        comment: reasons.join('; ') || `policy: ${d.decision}`,
      },
    };
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/function_calls`,
      summary: 'HumanLayer: ask for approval of a function call (becomes an approval; call_id is the idempotency key)',
      request: { body: jsonBody(FunctionCallBody) },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403, 422) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'agent');
      const body = c.req.valid('json');
      const { fn, kwargs } = body.spec;
      // The rest of the spec as sent: it validated, but zod's passthrough copy drops a "__proto__" key.
      const { fn: _fn, kwargs: _kwargs, ...rest } = await sentSpec(c);
      await deps.service.guard(auth.tenant_id, {
        action: fn,
        agent_id: body.run_id,
        params: kwargs,
        context: { humanlayer: { run_id: body.run_id, spec: rest } },
        idempotency_key: body.call_id,
        require_human: true,
        slack_channel: body.spec.channel?.slack?.channel_or_user_id ?? null,
      });
      return c.json(await byCallId(auth.tenant_id, body.call_id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/function_calls/{call_id}`,
      request: { params: CallId },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'agent', 'approver');
      return c.json(await byCallId(auth.tenant_id, c.req.valid('param').call_id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/agent/function_calls/{call_id}/respond`,
      summary: 'HumanLayer: a human responds to a function call (an approver key decides it)',
      request: { params: CallId, body: jsonBody(FunctionCallStatusBody) },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'approver');
      const { call_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const approval = await deps.service.getByKey(auth.tenant_id, call_id);
      const decided = await deps.service.decide(auth.tenant_id, approval.id, {
        decision: body.approved ? 'approve' : 'reject',
        approver: approverFor(auth),
        reason: body.comment ?? undefined,
        option: body.approved ? undefined : (body.reject_option_name ?? undefined),
        channel: 'api',
      });
      return c.json(toFunctionCall(decided), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/contact_requests`,
      summary: 'HumanLayer: ask a human a free-text question',
      request: { body: jsonBody(ContactBody) },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403, 422) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'agent');
      const body = c.req.valid('json');
      const q = await deps.questions.ask(auth.tenant_id, {
        call_id: body.call_id,
        run_id: body.run_id,
        msg: body.spec.msg,
        spec: await sentSpec(c),
        slack_channel: body.spec.channel?.slack?.channel_or_user_id ?? null,
      });
      return c.json(toHumanContact(q), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/contact_requests/{call_id}`,
      request: { params: CallId },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'agent', 'approver');
      return c.json(toHumanContact(await deps.questions.get(auth.tenant_id, c.req.valid('param').call_id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/agent/human_contacts/{call_id}/respond`,
      summary: 'HumanLayer: a human answers a question (an approver key)',
      request: { params: CallId, body: jsonBody(ContactStatusBody) },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'approver');
      const body = c.req.valid('json');
      const q = await deps.questions.answer(auth.tenant_id, { call_id: c.req.valid('param').call_id }, {
        response: body.response,
        option: body.response_option_name ?? null,
        by: approverFor(auth),
        channel: 'api',
      });
      return c.json(toHumanContact(q), 200);
    },
  );

  return app;
}
