import { describe, expect, it } from 'vitest';
import type { ApprovalView } from '../../src/approvals/render.ts';
import {
  ACTION_APPROVE,
  ACTION_REJECT,
  REASON_ACTION,
  REASON_BLOCK,
  REJECT_CALLBACK,
  approvalMessage,
  escapeMrkdwn,
  rejectModal,
  resultThreadMessage,
  slackDate,
  type Block,
  type SlackMessage,
} from '../../src/slack/blocks.ts';

const ID = '0190d5a0-0000-7000-8000-000000000001';
const EXPIRES = '2030-01-02T03:04:05.000Z';
const DECIDED = '2030-01-02T02:00:00.000Z';

function view(over: Partial<ApprovalView> = {}): ApprovalView {
  return {
    id: ID,
    idempotency_key: 'idem-1',
    action: 'payments.refund',
    agent_id: 'billing-bot',
    params: { amount: 120, currency: 'EUR' },
    context: {},
    status: 'pending',
    reasons: [{ source: 'rule', rule: 'big-refunds', decision: 'require_approval', message: 'Refunds over 100 EUR need a human' }],
    required_approvals: 1,
    votes: [],
    routing: {
      slack_channel: 'C0123',
      approvers: { slack_user_ids: ['U01AAA'], identities: ['alice'] },
      required_approvals: 1,
      timeout_seconds: 3600,
      on_timeout: 'reject',
    },
    on_timeout: 'reject',
    decided_by: null,
    decision_reason: null,
    decision_channel: null,
    callback_url: null,
    result: null,
    error: null,
    policy_version: 1,
    decision_id: 'dec-1',
    created_at: '2030-01-02T02:04:05.000Z',
    expires_at: EXPIRES,
    decided_at: null,
    claim_expires_at: null,
    completed_at: null,
    ...over,
  };
}

function vote(approver: string, v: 'approve' | 'reject' = 'approve') {
  return { approver, vote: v, reason: null, channel: 'slack', created_at: DECIDED };
}

const byType = (m: SlackMessage, type: string) => m.blocks.filter((b) => b.type === type);
const byId = (m: SlackMessage, id: string) => m.blocks.find((b) => b.block_id === id);
const textOf = (b: Block | undefined) => ((b?.text as { text?: string } | undefined)?.text ?? '');
const headerOf = (m: SlackMessage) => textOf(byType(m, 'header')[0]);
const fieldsOf = (m: SlackMessage) => ((byId(m, 'holdpoint_fields')?.fields ?? []) as { text: string }[]).map((f) => f.text);
const field = (m: SlackMessage, name: string) => fieldsOf(m).find((t) => t.startsWith(`*${name}*\n`))?.slice(name.length + 3);
const outcomeOf = (m: SlackMessage) => textOf(byId(m, 'holdpoint_outcome'));
const paramsOf = (m: SlackMessage) => textOf(byId(m, 'holdpoint_params'));

/** Every string anywhere in the message, for checks that must hold everywhere. */
function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => allStrings(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => allStrings(x, out));
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Walks the message and checks every limit Slack enforces on the blocks we build. */
function expectWithinSlackLimits(m: SlackMessage): void {
  expect(m.text.length).toBeGreaterThan(0);
  expect(m.text.length).toBeLessThanOrEqual(3000);
  expect(m.blocks.length).toBeLessThanOrEqual(50);
  for (const b of m.blocks) {
    if (b.type === 'header') {
      expect(textOf(b).length).toBeGreaterThan(0);
      expect(textOf(b).length).toBeLessThanOrEqual(150);
    }
    if (b.type === 'section') {
      const fields = (b.fields ?? []) as { text: string }[];
      expect(b.text !== undefined || fields.length > 0).toBe(true);
      if (b.text !== undefined) {
        expect(textOf(b).length).toBeGreaterThan(0);
        expect(textOf(b).length).toBeLessThanOrEqual(3000);
      }
      expect(fields.length).toBeLessThanOrEqual(10);
      for (const f of fields) {
        expect(f.text.length).toBeGreaterThan(0);
        expect(f.text.length).toBeLessThanOrEqual(2000);
      }
    }
  }
  for (const s of allStrings(m)) expect(LONE_SURROGATE.test(s), 'a string holds half a surrogate pair').toBe(false);
}

describe('slackDate', () => {
  it("writes Slack's date token with the unix seconds and the ISO text as fallback", () => {
    expect(slackDate(EXPIRES)).toBe(`<!date^1893553445^{date_short_pretty} at {time}|${EXPIRES}>`);
  });

  it('falls back to the escaped text when the date cannot be parsed', () => {
    expect(slackDate('not a <date>')).toBe('not a &lt;date&gt;');
  });
});

describe('escapeMrkdwn', () => {
  it('escapes the three characters Slack treats as control characters, ampersand first', () => {
    expect(escapeMrkdwn('a & b <c> &lt;')).toBe('a &amp; b &lt;c&gt; &amp;lt;');
    expect(escapeMrkdwn('*bold* _it_ `code`')).toBe('*bold* _it_ `code`');
  });
});

describe('approvalMessage while pending', () => {
  it('has one actions block with exactly an Approve and a Reject button carrying the approval id', () => {
    const m = approvalMessage(view());
    const actions = byType(m, 'actions');
    expect(actions).toHaveLength(1);
    expect(actions[0]!.block_id).toBe('holdpoint_actions');
    const buttons = actions[0]!.elements as Record<string, unknown>[];
    expect(buttons).toHaveLength(2);
    expect(buttons.map((b) => [b.type, b.action_id, b.style, b.value])).toEqual([
      ['button', ACTION_APPROVE, 'primary', ID],
      ['button', ACTION_REJECT, 'danger', ID],
    ]);
    expect(ACTION_APPROVE).toBe('holdpoint_approve');
    expect(ACTION_REJECT).toBe('holdpoint_reject');
    expect(buttons.map((b) => (b.text as { text: string }).text)).toEqual(['Approve', 'Reject']);
  });

  it('heads the message "Approval needed" and shows agent, action, expiry, approvals and approvers', () => {
    const m = approvalMessage(view());
    expect(headerOf(m)).toBe('Approval needed: payments.refund');
    expect(field(m, 'Agent')).toBe('billing-bot');
    expect(field(m, 'Action')).toBe('payments.refund');
    expect(field(m, 'Expires')).toBe(slackDate(EXPIRES));
    expect(field(m, 'Approvals')).toBe('0 of 1');
    expect(field(m, 'Approvers')).toBe('<@U01AAA>, alice');
    expect(byId(m, 'holdpoint_outcome')).toBeUndefined();
    expect(m.text).toContain('Approval needed: payments.refund');
    expect(m.text).toContain('billing-bot');
  });

  it('explains why with each reason as a bullet', () => {
    const m = approvalMessage(
      view({
        reasons: [
          { source: 'rule', rule: 'a', decision: 'require_approval', message: 'Refunds over 100 EUR need a human' },
          { source: 'default', decision: 'require_approval', message: 'Default for payments' },
        ],
      }),
    );
    expect(textOf(byId(m, 'holdpoint_reasons'))).toBe('*Why:*\n• Refunds over 100 EUR need a human\n• Default for payments');
  });

  it('shows the params as pretty JSON in a code block', () => {
    expect(paramsOf(approvalMessage(view()))).toBe('*Params*\n```\n{\n  "amount": 120,\n  "currency": "EUR"\n}\n```');
  });

  it('shows 1 of 2 with the name of who approved, ignoring rejections and repeated votes', () => {
    const m = approvalMessage(
      view({ required_approvals: 2, votes: [vote('alice'), vote('alice'), vote('bob', 'reject')] }),
    );
    expect(field(m, 'Approvals')).toBe('1 of 2 — alice');
  });

  it('mentions Slack users among those who approved', () => {
    const m = approvalMessage(view({ required_approvals: 3, votes: [vote('slack:U0ABC'), vote('carol')] }));
    expect(field(m, 'Approvals')).toBe('2 of 3 — <@U0ABC>, carol');
  });

  it('says "any approver" when the route names nobody, or there is no route', () => {
    const open = { slack_channel: null, approvers: { slack_user_ids: [], identities: [] }, required_approvals: 1, timeout_seconds: 60, on_timeout: 'reject' };
    expect(field(approvalMessage(view({ routing: open })), 'Approvers')).toBe('any approver');
    expect(field(approvalMessage(view({ routing: null })), 'Approvers')).toBe('any approver');
  });

  it('does not turn a malformed Slack user id in the route into a mention', () => {
    const routing = { approvers: { slack_user_ids: ['U1> <!channel'], identities: [] } };
    const approvers = field(approvalMessage(view({ routing })), 'Approvers')!;
    expect(approvers).toBe('U1&gt; &lt;!channel');
    expect(approvers).not.toContain('<!channel');
  });

  it('cuts a long action in the header to 150 characters ending in an ellipsis', () => {
    const m = approvalMessage(view({ action: 'x'.repeat(500) }));
    expect(headerOf(m)).toHaveLength(150);
    expect(headerOf(m).endsWith('…')).toBe(true);
    expect(headerOf(m).startsWith('Approval needed: xxx')).toBe(true);
    expectWithinSlackLimits(m);
  });
});

describe('approvalMessage once decided', () => {
  it('has no buttons and says who approved in Slack, when, and why', () => {
    const m = approvalMessage(
      view({ status: 'approved', decided_by: 'slack:U123', decided_at: DECIDED, decision_reason: 'Customer is <VIP> & verified', decision_channel: 'slack', votes: [vote('slack:U123')] }),
    );
    expect(byType(m, 'actions')).toHaveLength(0);
    expect(headerOf(m)).toBe('Approved: payments.refund');
    expect(outcomeOf(m)).toBe(`Approved by <@U123> at ${slackDate(DECIDED)}\n*Reason:* Customer is &lt;VIP&gt; &amp; verified`);
    expect(field(m, 'Approvals')).toBe('1 of 1 — <@U123>');
    expect(m.text).toContain('Approved by <@U123>');
  });

  it('names a decider outside Slack as escaped text instead of a mention', () => {
    const m = approvalMessage(view({ status: 'rejected', decided_by: 'ops<team>&co', decided_at: DECIDED, decision_channel: 'api' }));
    expect(byType(m, 'actions')).toHaveLength(0);
    expect(headerOf(m)).toBe('Rejected: payments.refund');
    expect(outcomeOf(m)).toBe(`Rejected by ops&lt;team&gt;&amp;co at ${slackDate(DECIDED)}`);
  });

  it('says a rejection in Slack was by that user and gives the reason', () => {
    const m = approvalMessage(view({ status: 'rejected', decided_by: 'slack:U999', decided_at: DECIDED, decision_reason: 'too much', decision_channel: 'slack' }));
    expect(outcomeOf(m)).toBe(`Rejected by <@U999> at ${slackDate(DECIDED)}\n*Reason:* too much`);
  });

  it('says an expired request timed out at its deadline', () => {
    const m = approvalMessage(view({ status: 'expired', decided_by: 'system', decided_at: EXPIRES, decision_reason: 'timed out', decision_channel: 'timeout' }));
    expect(byType(m, 'actions')).toHaveLength(0);
    expect(headerOf(m)).toBe('Expired: payments.refund');
    expect(outcomeOf(m)).toBe(`Timed out: no decision by the deadline, ${slackDate(EXPIRES)}.`);
  });

  it('says a request approved on timeout was approved automatically when the deadline passed', () => {
    const m = approvalMessage(
      view({ status: 'approved', on_timeout: 'approve', decided_by: 'system', decided_at: EXPIRES, decision_reason: 'timed out', decision_channel: 'timeout' }),
    );
    expect(byType(m, 'actions')).toHaveLength(0);
    expect(headerOf(m)).toBe('Approved: payments.refund');
    expect(outcomeOf(m).toLowerCase()).toContain('approved automatically when the deadline passed');
    expect(outcomeOf(m)).toContain(slackDate(EXPIRES));
    expect(outcomeOf(m)).not.toContain('system');
  });

  it('says who cancelled and why', () => {
    const m = approvalMessage(view({ status: 'cancelled', decided_by: 'key:ops', decided_at: DECIDED, decision_reason: 'agent gave up', decision_channel: 'api' }));
    expect(headerOf(m)).toBe('Cancelled: payments.refund');
    expect(outcomeOf(m)).toBe(`Cancelled by key:ops at ${slackDate(DECIDED)}\n*Reason:* agent gave up`);
  });

  it('keeps who approved and adds the outcome once the action completed or failed', () => {
    const base = { decided_by: 'slack:U123', decided_at: DECIDED, decision_channel: 'slack', completed_at: '2030-01-02T02:30:00.000Z' };
    const done = approvalMessage(view({ ...base, status: 'completed' }));
    expect(headerOf(done)).toBe('Completed: payments.refund');
    expect(outcomeOf(done)).toBe(`Approved by <@U123> at ${slackDate(DECIDED)}\nCompleted at ${slackDate(base.completed_at)}; the result is in the thread.`);
    const failed = approvalMessage(view({ ...base, status: 'failed' }));
    expect(headerOf(failed)).toBe('Failed: payments.refund');
    expect(outcomeOf(failed)).toContain('Failed at');
    expect(byType(failed, 'actions')).toHaveLength(0);
    expect(headerOf(approvalMessage(view({ ...base, status: 'executing' })))).toBe('Executing: payments.refund');
  });
});

describe('approvalMessage with hostile or odd input', () => {
  it('escapes <script> and & in params and reasons so Slack shows them as text', () => {
    const m = approvalMessage(
      view({
        params: { note: '<script>alert(1)</script> & <!channel>' },
        reasons: [{ source: 'rule', decision: 'require_approval', message: 'a <b> & <@U1> c' }],
      }),
    );
    expect(paramsOf(m)).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;');
    expect(textOf(byId(m, 'holdpoint_reasons'))).toContain('a &lt;b&gt; &amp; &lt;@U1&gt; c');
    const mrkdwnTexts = m.blocks.flatMap((b) => [textOf(b), ...fieldsOf(m)]);
    for (const t of mrkdwnTexts) {
      expect(t).not.toContain('<script>');
      expect(t).not.toContain('<!channel>');
      expect(t).not.toContain('<@U1>');
    }
  });

  it('keeps a ``` inside params from closing the code block early', () => {
    const p = paramsOf(approvalMessage(view({ params: { s: 'a ``` *b*' } })));
    expect(p.match(/```/g)).toHaveLength(2);
    expect(p.startsWith('*Params*\n```\n')).toBe(true);
    expect(p.endsWith('\n```')).toBe(true);
  });

  it('truncates 1 MB of params, says so, and keeps every text within Slack limits', () => {
    const params = { blob: 'A&<'.repeat(350_000), list: Array.from({ length: 1000 }, (_, i) => ({ i })) };
    const m = approvalMessage(
      view({
        params,
        action: 'a'.repeat(10_000),
        agent_id: 'g&'.repeat(5000),
        reasons: Array.from({ length: 500 }, () => ({ source: 'rule', decision: 'require_approval', message: 'why '.repeat(100) })),
        votes: Array.from({ length: 2000 }, (_, i) => vote(`approver-${i}`)),
        required_approvals: 5000,
      }),
    );
    expect(JSON.stringify(params).length).toBeGreaterThan(1_000_000);
    expectWithinSlackLimits(m);
    const p = paramsOf(m);
    expect(p.length).toBeLessThanOrEqual(3000);
    expect(p.length).toBeGreaterThan(2500);
    expect(p.endsWith('\n```\n… (truncated)')).toBe(true);
    // Cut between entities, never inside one.
    expect(p).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect(field(m, 'Agent')!.endsWith('…')).toBe(true);
  });

  it('never cuts inside an escaped character, wherever the cut falls', () => {
    for (let k = 0; k < 12; k++) {
      const m = approvalMessage(view({ params: { s: 'x'.repeat(k) + '&<>'.repeat(2000) } }));
      const p = paramsOf(m);
      expect(p.endsWith('\n```\n… (truncated)'), `offset ${k}`).toBe(true);
      expect(p, `offset ${k}`).not.toMatch(/&(?!amp;|lt;|gt;)/);
    }
  });

  it('cuts long emoji text without splitting a surrogate pair, wherever the cut falls', () => {
    for (const prefix of ['', 'x']) {
      const m = approvalMessage(
        view({ params: { s: prefix + '😀'.repeat(5000) }, action: prefix + '🚀'.repeat(200), reasons: [{ message: prefix + '✅🎉'.repeat(3000) }] }),
      );
      expectWithinSlackLimits(m);
      expect(paramsOf(m).endsWith('… (truncated)')).toBe(true);
    }
  });

  it('does not throw on circular, BigInt, very deep params, missing votes or malformed reasons and routing', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const odd = [
      view({ params: circular }),
      view({ params: { n: 10n } as unknown as Record<string, unknown> }),
      view({ params: deep }),
      view({ params: undefined as unknown as Record<string, unknown>, votes: undefined as unknown as ApprovalView['votes'] }),
      view({ reasons: [null, 42, 'plain string', { message: 7 }, { nope: true }], routing: 'nonsense' }),
      view({ status: 'mystery' as ApprovalView['status'], expires_at: 'garbage', decided_at: null }),
      view({ status: 'approved', decided_by: null, decided_at: null }),
    ];
    for (const v of odd) {
      const m = approvalMessage(v);
      expectWithinSlackLimits(m);
      expect(byId(m, 'holdpoint_params')).toBeDefined();
    }
    expect(paramsOf(approvalMessage(odd[0]!))).toContain('cannot be shown as JSON');
    expect(field(approvalMessage(odd[3]!), 'Approvals')).toBe('0 of 1');
    expect(textOf(byId(approvalMessage(odd[4]!), 'holdpoint_reasons'))).toBe('*Why:*\n• plain string\n• 7');
    expect(outcomeOf(approvalMessage(odd[6]!))).toBe('Approved');
  });
});

describe('rejectModal', () => {
  it('is a modal that carries the approval id and asks for an optional reason', () => {
    const modal = rejectModal({ id: ID, action: 'payments.refund', agent_id: 'billing-bot' });
    expect(modal).toMatchObject({
      type: 'modal',
      callback_id: REJECT_CALLBACK,
      private_metadata: ID,
      title: { type: 'plain_text', text: 'Reject request' },
      submit: { type: 'plain_text', text: 'Reject' },
      close: { type: 'plain_text', text: 'Cancel' },
    });
    expect(REJECT_CALLBACK).toBe('holdpoint_reject');
    expect(((modal.title as { text: string }).text).length).toBeLessThanOrEqual(24);
    const blocks = modal.blocks as Block[];
    expect(blocks).toHaveLength(2);
    expect(textOf(blocks[0])).toContain('payments.refund');
    expect(textOf(blocks[0])).toContain('billing-bot');
    expect(blocks[1]).toMatchObject({
      type: 'input',
      block_id: REASON_BLOCK,
      optional: true,
      label: { type: 'plain_text', text: 'Reason (optional)' },
      element: { type: 'plain_text_input', action_id: REASON_ACTION, multiline: true, max_length: 2000 },
    });
  });

  it('escapes the action and agent it names', () => {
    const modal = rejectModal({ id: ID, action: '<b>&', agent_id: '<!here>' });
    const text = textOf((modal.blocks as Block[])[0]);
    expect(text).toContain('&lt;b&gt;&amp;');
    expect(text).toContain('&lt;!here&gt;');
  });
});

describe('resultThreadMessage', () => {
  it('posts the result of a completed action as pretty JSON', () => {
    const m = resultThreadMessage(view({ status: 'completed', result: { refund_id: 're_1', ok: true } }));
    expect(textOf(m.blocks[0])).toBe('*Result:*\n```\n{\n  "refund_id": "re_1",\n  "ok": true\n}\n```');
    expect(m.text).toBe(textOf(m.blocks[0]));
  });

  it('posts the error of a failed action, a string as is and an object as JSON, escaped', () => {
    const s = resultThreadMessage(view({ status: 'failed', error: 'card <declined> & retried' }));
    expect(textOf(s.blocks[0])).toBe('*Failed:*\n```\ncard &lt;declined&gt; &amp; retried\n```');
    const o = resultThreadMessage(view({ status: 'failed', error: { code: 'E1' } }));
    expect(textOf(o.blocks[0])).toBe('*Failed:*\n```\n{\n  "code": "E1"\n}\n```');
  });

  it('truncates a huge result to within Slack limits', () => {
    const m = resultThreadMessage(view({ status: 'completed', result: { rows: 'r'.repeat(2_000_000) } }));
    expectWithinSlackLimits(m);
    expect(textOf(m.blocks[0]).endsWith('\n```\n… (truncated)')).toBe(true);
  });

  it('does not throw when there is no result yet', () => {
    const m = resultThreadMessage(view({ status: 'executing', result: undefined }));
    expectWithinSlackLimits(m);
    expect(m.text).toContain('no result yet');
  });
});
