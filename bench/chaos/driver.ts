// The load: lanes that each park an approval through POST /v1/guard and then
// play one plan on it — let it expire, approve or reject it through the API or
// a signed Slack interaction, cancel it, claim and complete / fail it, race two
// deciders or two claimers — alternating between the two API processes and
// retrying (as a real client would) whenever the answer was lost. Every
// acknowledged answer becomes an observation the checker holds Postgres to.
import type { FakeSlack } from '../../test/helpers/fake-slack.ts';
import { blockActionPayload, slackInteractionRequest, viewSubmissionPayload } from '../../test/helpers/fake-slack.ts';
import { isStatus, isUnknown, request, type Api, type Exchange, type Journal } from './journal.ts';
import type { Rng } from './rng.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const PLANS = {
  expire: 12, // short deadline, nobody decides: expired
  'expire-approve': 3, // short deadline under on_timeout: approve: approved by the timeout
  'late-approve': 5, // an approve that races the deadline
  approve: 5,
  'approve-complete': 12,
  'approve-fail': 5,
  'slack-approve-complete': 10,
  reject: 7,
  'slack-reject': 8,
  cancel: 8,
  quorum: 5, // two approvers needed: one through the API, one through Slack
  race: 6, // approve (API) and reject (Slack) at once: exactly one wins
  'double-claim': 5, // two claims at once, one per API: exactly one lease
  'abandon-claim': 4, // claim with a 2 s lease, walk away, claim again after it lapsed
  allowed: 4, // the policy allows: no approval
} as const;
export type Plan = keyof typeof PLANS;

export interface Observation {
  at: number;
  op: string;
  status: string;
  http: number;
  /** decided_by from the answer, when it carried the approval. */
  decidedBy?: string | null;
}

export interface SlackClick {
  user: string;
  kind: 'approve' | 'reject-open' | 'reject-submit';
  api: string;
  t0: number;
  t1: number;
  /** approve / reject-open answer 200 either way; reject-submit says refused in its body. */
  answer: 'ok' | 'refused' | 'unknown';
}

export interface Claim {
  token: string;
  api: string;
  t0: number;
  t1: number;
  lease: number;
}

export interface Tracked {
  n: number;
  key: string;
  plan: Plan;
  action: string;
  params: Record<string, unknown>;
  timeoutS: number;
  callback: boolean;
  id?: string;
  /** Never acknowledged despite retries: not held to anything (nothing was promised). */
  unacked?: boolean;
  obs: Observation[];
  claims: Claim[];
  clicks: SlackClick[];
  /** Guard retried on the other API answered another approval id. */
  idempotencyMismatch?: string;
  notes: string[];
}

export interface DriverContext {
  journal: Journal;
  apis: Api[];
  keys: { agent: string; approver: string; admin: string };
  slackSecret: string;
  slack: FakeSlack;
  callbackUrl: string;
  rng: Rng;
  /** Stop starting new plans at this time (ms since epoch). */
  stopAt: number;
  lanes: number;
}

export interface DriverResult {
  tracked: Tracked[];
  /** Guards answered `allowed` (no approval). */
  allowed: number;
}

const AGENT = 'chaos-agent';
/** How long a client keeps retrying one call before it gives up. */
const RETRY_FOR_MS = 120_000;

export function runDriver(ctx: DriverContext): { done: Promise<DriverResult>; tracked: Tracked[] } {
  const tracked: Tracked[] = [];
  const polls = new Set<Promise<unknown>>();
  let counter = 0;
  let clickUser = 0;
  let apiTurn = 0;
  let allowed = 0;
  const nextApi = () => ctx.apis[apiTurn++ % ctx.apis.length]!;

  /** Calls `send` (on alternating APIs) until the answer is known, or gives up. */
  async function retry(send: (api: Api) => Promise<Exchange>): Promise<Exchange> {
    const giveUp = Date.now() + RETRY_FOR_MS;
    let api = nextApi();
    for (let attempt = 0; ; attempt++) {
      const x = await send(api);
      if (!isUnknown(x) || Date.now() > giveUp) return x;
      api = ctx.apis[(ctx.apis.indexOf(api) + 1) % ctx.apis.length]!;
      await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 4)) + ctx.rng.int(0, 100));
    }
  }

  function observe(t: Tracked, x: Exchange, op: string): void {
    if (x.outcome.kind !== 'http') return;
    const b = x.outcome.body;
    let approval: { status?: string; decided_by?: string | null } | undefined;
    if (x.outcome.status === 200 || x.outcome.status === 202) approval = b?.approval ?? b;
    else if (x.outcome.status === 409) approval = b?.error?.details?.approval;
    if (approval && typeof approval.status === 'string') {
      t.obs.push({ at: x.t1, op, status: approval.status, http: x.outcome.status, decidedBy: approval.decided_by ?? null });
    }
  }

  async function guard(t: Tracked, api?: Api): Promise<Exchange> {
    const body = { action: t.action, agent_id: AGENT, params: t.params, idempotency_key: t.key, timeout_seconds: t.timeoutS, ...(t.callback ? { callback_url: ctx.callbackUrl } : {}) };
    const send = (a: Api) => request(ctx.journal, a, 'guard', 'POST', '/v1/guard', { key: ctx.keys.agent, body });
    return api ? send(api) : retry(send);
  }

  async function decide(t: Tracked, decision: 'approve' | 'reject', approver: string): Promise<Exchange> {
    const x = await retry((a) =>
      request(ctx.journal, a, `decide-${decision}`, 'POST', `/v1/approvals/${t.id}/decision`, {
        key: ctx.keys.approver,
        // The approver key decides as itself: naming a person needs assert_identity.
        body: { decision, reason: `chaos ${decision} by ${approver}` },
      }),
    );
    observe(t, x, `decide-${decision}`);
    return x;
  }

  async function slackInteract(t: Tracked, kind: SlackClick['kind'], payload: () => object): Promise<SlackClick> {
    const user = (payload() as { user: { id: string } }).user.id;
    const x = await retry((a) => {
      const req = slackInteractionRequest(ctx.slackSecret, payload());
      return request(ctx.journal, a, `slack-${kind}`, 'POST', '/slack/interactions', { raw: req });
    });
    let answer: SlackClick['answer'] = 'unknown';
    if (isStatus(x, 200)) {
      const b = x.outcome.kind === 'http' ? x.outcome.body : null;
      answer = b && typeof b === 'object' && b.response_action === 'errors' ? 'refused' : 'ok';
    }
    const click: SlackClick = { user, kind, api: x.api, t0: x.t0, t1: x.t1, answer };
    t.clicks.push(click);
    if (kind === 'reject-submit' && answer === 'ok') t.obs.push({ at: x.t1, op: 'slack-reject', status: 'rejected', http: 200, decidedBy: `slack:${user}` });
    return click;
  }

  const newUser = () => `UCHAOS${String(++clickUser).padStart(5, '0')}`;

  const slackApprove = (t: Tracked, user = newUser()) =>
    slackInteract(t, 'approve', () => blockActionPayload({ approvalId: t.id!, actionId: 'holdpoint_approve', userId: user, channel: 'CCHAOS0001' }));

  async function slackReject(t: Tracked, openFirst: boolean, user = newUser()): Promise<SlackClick> {
    if (openFirst) {
      const open = await slackInteract(t, 'reject-open', () => blockActionPayload({ approvalId: t.id!, actionId: 'holdpoint_reject', userId: user, channel: 'CCHAOS0001' }));
      if (open.answer !== 'ok') return open;
    }
    return slackInteract(t, 'reject-submit', () => viewSubmissionPayload({ approvalId: t.id!, userId: user, reason: `chaos reject by ${user}` }));
  }

  async function cancel(t: Tracked): Promise<Exchange> {
    const x = await retry((a) => request(ctx.journal, a, 'cancel', 'POST', `/v1/approvals/${t.id}/cancel`, { key: ctx.keys.agent, body: { reason: 'chaos cancel' } }));
    observe(t, x, 'cancel');
    return x;
  }

  async function claimOnce(t: Tracked, api: Api, lease: number): Promise<Exchange> {
    const x = await request(ctx.journal, api, 'claim', 'POST', `/v1/approvals/${t.id}/claim`, { key: ctx.keys.agent, body: { lease_seconds: lease } });
    observe(t, x, 'claim');
    if (isStatus(x, 200) && x.outcome.kind === 'http') t.claims.push({ token: x.outcome.body.claim_token, api: x.api, t0: x.t0, t1: x.t1, lease });
    return x;
  }

  /** Claims until granted; a lost answer may have been granted, so a conflict waits for that lease to lapse. */
  async function claim(t: Tracked, lease = 8): Promise<string | undefined> {
    const giveUp = Date.now() + RETRY_FOR_MS;
    while (Date.now() < giveUp) {
      const x = await claimOnce(t, nextApi(), lease);
      if (isStatus(x, 200) && x.outcome.kind === 'http') return x.outcome.body.claim_token as string;
      if (x.outcome.kind === 'http' && x.outcome.status === 409) {
        const status = x.outcome.body?.error?.details?.approval?.status;
        if (status !== 'executing') return undefined; // not claimable (rejected, completed, ...)
        await sleep(lease * 1000 + 500);
        continue;
      }
      if (x.outcome.kind === 'http' && x.outcome.status < 500) return undefined;
      await sleep(300);
    }
    t.notes.push('gave up claiming');
    return undefined;
  }

  async function finish(t: Tracked, token: string, how: 'complete' | 'fail'): Promise<Exchange> {
    const body = how === 'complete' ? { claim_token: token, result: { ok: true, n: t.n } } : { claim_token: token, error: { message: 'chaos failure' } };
    const x = await retry((a) => request(ctx.journal, a, how, 'POST', `/v1/approvals/${t.id}/${how}`, { key: ctx.keys.agent, body }));
    observe(t, x, how);
    return x;
  }

  /** Polls GET /v1/approvals/:id until it is not pending (a Slack click has no answer to read). */
  async function settled(t: Tracked, withinMs = 15_000): Promise<string | undefined> {
    const until = Date.now() + withinMs;
    while (Date.now() < until) {
      const x = await request(ctx.journal, nextApi(), 'get', 'GET', `/v1/approvals/${t.id}`, { key: ctx.keys.agent });
      observe(t, x, 'get');
      if (isStatus(x, 200) && x.outcome.kind === 'http' && x.outcome.body.status !== 'pending') return x.outcome.body.status as string;
      await sleep(250);
    }
    return undefined;
  }

  async function claimAndFinish(t: Tracked, how: 'complete' | 'fail' = 'complete'): Promise<void> {
    const token = await claim(t);
    if (token) await finish(t, token, how);
  }

  /** A long-poll that runs beside the plan; what it answers is one more observation. */
  function longPoll(t: Tracked): void {
    const p = request(ctx.journal, nextApi(), 'long-poll', 'GET', `/v1/approvals/by-key/${t.key}?wait=8`, { key: ctx.keys.agent, timeoutMs: 20_000 }).then((x) => observe(t, x, 'long-poll'));
    polls.add(p);
    void p.finally(() => polls.delete(p));
  }

  async function play(plan: Plan): Promise<void> {
    const n = ++counter;
    const rng = ctx.rng;
    const short = plan === 'expire' || plan === 'expire-approve' || plan === 'late-approve';
    const action = plan === 'expire-approve' ? 'report.publish' : plan === 'quorum' ? 'wire.transfer' : plan === 'allowed' ? 'read.report' : 'payment.send';
    const t: Tracked = {
      n,
      key: `chaos-${ctx.rng.seed}-${n}`,
      plan,
      action,
      params: { n, amount: 1000 + n },
      timeoutS: short ? rng.int(2, 6) : 3600,
      callback: rng.chance(0.5),
      obs: [],
      claims: [],
      clicks: [],
      notes: [],
    };
    const g = await guard(t);
    if (plan === 'allowed') {
      if (isStatus(g, 200) && g.outcome.kind === 'http' && g.outcome.body.status === 'allowed') allowed++;
      else if (!isUnknown(g)) t.notes.push(`allowed plan answered ${g.outcome.kind === 'http' ? g.outcome.status : 'network'}`);
      return;
    }
    tracked.push(t);
    if (!(isStatus(g, 200, 202) && g.outcome.kind === 'http' && g.outcome.body.approval)) {
      t.unacked = true;
      t.notes.push(`guard never acknowledged (${g.outcome.kind === 'http' ? `${g.outcome.status} ${g.outcome.code ?? ''}` : g.outcome.error})`);
      return;
    }
    t.id = g.outcome.body.approval.id as string;
    observe(t, g, 'guard');

    // Idempotency across processes: the same key on the other API is the same approval.
    if (rng.chance(0.2)) {
      const other = ctx.apis[(ctx.apis.findIndex((a) => a.name === g.api) + 1) % ctx.apis.length]!;
      const again = await guard(t, other);
      if (isStatus(again, 200, 202) && again.outcome.kind === 'http') {
        const id = again.outcome.body.approval?.id;
        if (id !== t.id) t.idempotencyMismatch = `first ${t.id}, then ${String(id)} (${again.api})`;
        observe(t, again, 'guard-retry');
      }
    }
    if (!short && rng.chance(0.15)) longPoll(t);

    const think = () => sleep(rng.int(0, 1_500));
    switch (plan) {
      case 'expire':
      case 'expire-approve':
        return;
      case 'late-approve':
        await sleep(t.timeoutS * 1000 + rng.int(-400, 600));
        await decide(t, 'approve', `ap-${n}`);
        return;
      case 'approve':
        await think();
        await decide(t, 'approve', `ap-${n}`);
        return;
      case 'approve-complete':
      case 'approve-fail': {
        await think();
        const d = await decide(t, 'approve', `ap-${n}`);
        if (isStatus(d, 200)) await claimAndFinish(t, plan === 'approve-fail' ? 'fail' : 'complete');
        return;
      }
      case 'slack-approve-complete': {
        await think();
        await slackApprove(t);
        if ((await settled(t)) === 'approved') await claimAndFinish(t);
        return;
      }
      case 'reject':
        await think();
        await decide(t, 'reject', `ap-${n}`);
        return;
      case 'slack-reject':
        await think();
        await slackReject(t, rng.chance(0.7));
        return;
      case 'cancel':
        await think();
        await cancel(t);
        return;
      case 'quorum': {
        await think();
        await decide(t, 'approve', `ap-${n}`);
        await slackApprove(t);
        if ((await settled(t)) === 'approved') await claimAndFinish(t);
        return;
      }
      case 'race': {
        await think();
        const [d] = await Promise.all([decide(t, 'approve', `ap-${n}`), slackReject(t, false)]);
        if (isStatus(d, 200) && d.outcome.kind === 'http' && d.outcome.body.status === 'approved') await claimAndFinish(t);
        return;
      }
      case 'double-claim': {
        await think();
        const d = await decide(t, 'approve', `ap-${n}`);
        if (!isStatus(d, 200)) return;
        const both = await Promise.all(ctx.apis.map((a) => claimOnce(t, a, 8)));
        const won = both.find((x) => isStatus(x, 200));
        if (won && won.outcome.kind === 'http') await finish(t, won.outcome.body.claim_token, 'complete');
        else if (both.some(isUnknown)) await claimAndFinish(t); // the lease may be lost with the answer: wait it out
        return;
      }
      case 'abandon-claim': {
        await think();
        const d = await decide(t, 'approve', `ap-${n}`);
        if (!isStatus(d, 200)) return;
        await claim(t, 2); // and walk away
        await sleep(rng.int(2_500, 5_000));
        await claimAndFinish(t);
        return;
      }
    }
  }

  const lane = async () => {
    while (Date.now() < ctx.stopAt) {
      await play(ctx.rng.weighted(PLANS));
      await sleep(ctx.rng.int(0, 200));
    }
  };

  const done = (async () => {
    await Promise.all(Array.from({ length: ctx.lanes }, lane));
    while (polls.size > 0) await Promise.allSettled([...polls]);
    return { tracked, allowed };
  })();
  return { done, tracked };
}
