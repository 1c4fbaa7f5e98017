// Block Kit builders for approval messages. Pure: plain objects in, plain
// objects out; no Slack SDK, no clock. Every text is clipped to Slack's
// limits here, because Slack rejects the whole message (invalid_blocks) when
// one field is too long — and an agent controls params and reasons.
import type { ApprovalView } from '../approvals/render.ts';

export type Block = Record<string, unknown>;
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

export const ACTION_APPROVE = 'holdpoint_approve';
export const ACTION_REJECT = 'holdpoint_reject';
export const REJECT_CALLBACK = 'holdpoint_reject';
export const REASON_BLOCK = 'reason';
export const REASON_ACTION = 'reason';
export const ACTIONS_BLOCK = 'holdpoint_actions';

/** Slack's documented limits, in characters. */
export const LIMITS = {
  header: 150,
  sectionText: 3000,
  field: 2000,
  fields: 10,
  blocks: 50,
  messageText: 3000,
  modalTitle: 24,
} as const;

const LABELS: Record<string, string> = {
  pending: 'Approval needed',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
  executing: 'Executing',
  completed: 'Completed',
  failed: 'Failed',
};

const APPROVED_LIKE = new Set(['approved', 'executing', 'completed', 'failed']);
const SLACK_USER = /^slack:([UW][A-Z0-9]{2,})$/;
const SLACK_ID = /^[UW][A-Z0-9]{2,}$/;

export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A date Slack shows in the reader's time zone; the ISO text is the fallback. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(String(iso));
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} at {time}|${escapeMrkdwn(iso)}>`;
}

// Cut to at most `max` UTF-16 units without leaving half a surrogate pair, half
// an entity (`&am`) or half of our own `<…>` markup (escaped user text never
// holds a raw `<`, so any unclosed one is ours).
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let out = s.slice(0, Math.max(0, max));
  const last = out.charCodeAt(out.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  return out.replace(/&[a-z]{0,4}$|<[^>]*$/, '');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${cut(s, max - 1)}…`;
}

function plain(text: string, max: number): Block {
  return { type: 'plain_text', text: clip(text, max) || ' ', emoji: true };
}

function mrkdwn(text: string, max: number): Block {
  return { type: 'mrkdwn', text: clip(text, max) || ' ' };
}

function section(blockId: string, text: string): Block {
  return { type: 'section', block_id: blockId, text: mrkdwn(text, LIMITS.sectionText) };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Pretty JSON that never throws (circular, BigInt, very deep) and never returns undefined. */
function prettyJson(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2) ?? 'null';
  } catch {
    return '[value cannot be shown as JSON]';
  }
}

/**
 * `label` then `body` in a code block, escaped, the whole ≤ `max`. A body that
 * does not fit is cut and followed by a line "… (truncated)".
 */
function codeText(label: string, body: string, max: number = LIMITS.sectionText): string {
  const head = `${label}\n\`\`\`\n`;
  const foot = '\n```';
  const more = '\n… (truncated)';
  // Escaping only lengthens, so a raw prefix of `max` units is all that can show;
  // cutting first keeps a megabyte of params from being escaped for nothing.
  const raw = body.length > max ? body.slice(0, max + 1) : body;
  // A ``` inside the data would close the code block early.
  const safe = escapeMrkdwn(raw).replace(/```/g, '`\u200b`\u200b`');
  if (head.length + safe.length + foot.length <= max) return head + safe + foot;
  return head + cut(safe, max - head.length - foot.length - more.length) + foot + more;
}

/** `slack:U123` → a mention; anything else → the name, escaped. */
function who(actor: string): string {
  const m = SLACK_USER.exec(actor);
  return m ? `<@${m[1]}>` : escapeMrkdwn(actor);
}

function approversText(routing: unknown): string {
  const approvers = routing && typeof routing === 'object' ? (routing as { approvers?: unknown }).approvers : undefined;
  const a = approvers && typeof approvers === 'object' ? (approvers as Record<string, unknown>) : {};
  const names = [
    ...strings(a.slack_user_ids).map((id) => (SLACK_ID.test(id) ? `<@${id}>` : escapeMrkdwn(id))),
    ...strings(a.identities).map(escapeMrkdwn),
  ];
  return names.length ? names.join(', ') : 'any approver';
}

function approvalsText(a: ApprovalView): string {
  const votes = Array.isArray(a.votes) ? a.votes : [];
  const approvers = [...new Set(votes.filter((v) => v && v.vote === 'approve').map((v) => str(v.approver)))];
  const required = Number.isFinite(a.required_approvals) ? a.required_approvals : 1;
  const count = `${approvers.length} of ${required}`;
  return approvers.length ? `${count} — ${approvers.map(who).join(', ')}` : count;
}

function reasonsText(reasons: unknown): string | null {
  const lines = (Array.isArray(reasons) ? reasons : [])
    .map((r) => (typeof r === 'string' ? r : r && typeof r === 'object' ? str((r as { message?: unknown }).message) : ''))
    .filter((m) => m !== '')
    .map((m) => `• ${escapeMrkdwn(m)}`);
  return lines.length ? `*Why:*\n${lines.join('\n')}` : null;
}

function by(a: ApprovalView): string {
  const actor = str(a.decided_by);
  const at = a.decided_at ? ` at ${slackDate(a.decided_at)}` : '';
  return `${actor ? ` by ${who(actor)}` : ''}${at}`;
}

function withReason(line: string, reason: string | null): string {
  return reason ? `${line}\n*Reason:* ${escapeMrkdwn(reason)}` : line;
}

/** Who decided, when and why — the line that replaces the buttons. */
function outcomeText(a: ApprovalView): string {
  const status = str(a.status);
  const reason = str(a.decision_reason) || null;
  const lines: string[] = [];
  if (status === 'expired') {
    lines.push(`Timed out: no decision by the deadline, ${slackDate(str(a.expires_at))}.`);
  } else if (APPROVED_LIKE.has(status) && a.decision_channel === 'timeout') {
    lines.push(`Approved automatically when the deadline passed (${slackDate(str(a.decided_at ?? a.expires_at))}).`);
  } else if (APPROVED_LIKE.has(status)) {
    lines.push(withReason(`Approved${by(a)}`, reason));
  } else if (status === 'rejected') {
    lines.push(withReason(`Rejected${by(a)}`, reason));
  } else if (status === 'cancelled') {
    lines.push(withReason(`Cancelled${by(a)}`, reason));
  } else {
    lines.push(`Status: ${escapeMrkdwn(status)}`);
  }
  const done = a.completed_at ? ` at ${slackDate(a.completed_at)}` : '';
  if (status === 'executing') lines.push('The agent is carrying it out.');
  if (status === 'completed') lines.push(`Completed${done}; the result is in the thread.`);
  if (status === 'failed') lines.push(`Failed${done}; the error is in the thread.`);
  return lines.join('\n');
}

function label(status: unknown): string {
  return LABELS[str(status)] ?? 'Approval';
}

export function approvalMessage(a: ApprovalView): SlackMessage {
  const pending = a.status === 'pending';
  const title = `${label(a.status)}: ${str(a.action)}`;
  const blocks: Block[] = [
    { type: 'header', text: plain(title, LIMITS.header) },
    {
      type: 'section',
      block_id: 'holdpoint_fields',
      fields: [
        `*Agent*\n${escapeMrkdwn(str(a.agent_id))}`,
        `*Action*\n${escapeMrkdwn(str(a.action))}`,
        `*Expires*\n${slackDate(str(a.expires_at))}`,
        `*Approvals*\n${approvalsText(a)}`,
        `*Approvers*\n${approversText(a.routing)}`,
      ]
        .slice(0, LIMITS.fields)
        .map((t) => mrkdwn(t, LIMITS.field)),
    },
  ];
  const why = reasonsText(a.reasons);
  if (why) blocks.push(section('holdpoint_reasons', why));
  blocks.push(section('holdpoint_params', codeText('*Params*', prettyJson(a.params ?? {}))));
  const agent = str(a.agent_id);
  let summary = `${escapeMrkdwn(title)}${agent ? ` (agent ${escapeMrkdwn(agent)})` : ''}`;
  if (pending) {
    blocks.push({
      type: 'actions',
      block_id: ACTIONS_BLOCK,
      elements: [
        { type: 'button', action_id: ACTION_APPROVE, style: 'primary', value: str(a.id), text: plain('Approve', 75) },
        { type: 'button', action_id: ACTION_REJECT, style: 'danger', value: str(a.id), text: plain('Reject', 75) },
      ],
    });
  } else {
    const outcome = outcomeText(a);
    blocks.push(section('holdpoint_outcome', outcome));
    summary = `${summary} — ${outcome.split('\n')[0] ?? ''}`;
  }
  return {
    text: clip(summary, LIMITS.messageText),
    blocks: blocks.slice(0, LIMITS.blocks),
  };
}

export function rejectModal(a: Pick<ApprovalView, 'id' | 'action' | 'agent_id'>): Block {
  return {
    type: 'modal',
    callback_id: REJECT_CALLBACK,
    private_metadata: str(a.id),
    title: plain('Reject request', LIMITS.modalTitle),
    submit: plain('Reject', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: [
      section('holdpoint_reject_summary', `Reject *${escapeMrkdwn(str(a.action))}* requested by agent *${escapeMrkdwn(str(a.agent_id))}*?`),
      {
        type: 'input',
        block_id: REASON_BLOCK,
        optional: true,
        label: plain('Reason (optional)', 2000),
        element: { type: 'plain_text_input', action_id: REASON_ACTION, multiline: true, max_length: 2000 },
      },
    ],
  };
}

/** The follow-up posted in the approval message's thread once the action has run. */
export function resultThreadMessage(a: ApprovalView): SlackMessage {
  let text: string;
  if (a.status === 'completed') {
    text = codeText('*Result:*', prettyJson(a.result));
  } else if (a.status === 'failed') {
    text = codeText('*Failed:*', typeof a.error === 'string' ? a.error : prettyJson(a.error));
  } else {
    text = `${label(a.status)}: ${escapeMrkdwn(str(a.action))} has no result yet.`;
  }
  const t = clip(text, LIMITS.messageText);
  return { text: t, blocks: [section('holdpoint_result', t)] };
}

// ── Questions (HumanLayer contact requests): a message that takes a typed answer ──

export const ACTION_ANSWER = 'holdpoint_answer';
export const ACTION_ANSWER_OPTION = 'holdpoint_answer_option';
export const ANSWER_CALLBACK = 'holdpoint_answer';
export const ANSWER_BLOCK = 'answer';
export const ANSWER_ACTION = 'answer';

export interface QuestionView {
  id: string;
  run_id: string;
  msg: string;
  response_options: { name: string; title?: string | undefined }[];
  status: 'pending' | 'answered';
  response: string | null;
  response_option_name: string | null;
  responded_by: string | null;
  responded_at: string | null;
}

/** Option buttons carry `<question id>|<option name>`. */
export function optionValue(questionId: string, name: string): string {
  return `${questionId}|${name}`.slice(0, 2000);
}

export function questionMessage(q: QuestionView): SlackMessage {
  const pending = q.status === 'pending';
  const blocks: Block[] = [
    { type: 'header', text: plain(pending ? `Question from ${q.run_id}` : `Answered: question from ${q.run_id}`, LIMITS.header) },
    section('holdpoint_question', clip(escapeMrkdwn(q.msg), LIMITS.sectionText)),
  ];
  if (pending) {
    blocks.push({
      type: 'actions',
      block_id: 'holdpoint_question_actions',
      elements: [
        { type: 'button', action_id: ACTION_ANSWER, style: 'primary', value: q.id, text: plain('Answer', 75) },
        ...q.response_options.slice(0, 4).map((o, i) => ({
          type: 'button',
          action_id: `${ACTION_ANSWER_OPTION}_${i}`,
          value: optionValue(q.id, o.name),
          text: plain(o.title ?? o.name, 75),
        })),
      ],
    });
  } else {
    const when = q.responded_at ? ` at ${slackDate(q.responded_at)}` : '';
    const option = q.response_option_name ? ` (${escapeMrkdwn(q.response_option_name)})` : '';
    blocks.push(section('holdpoint_answer', clip(`Answered by ${who(q.responded_by ?? 'someone')}${when}${option}:\n${escapeMrkdwn(q.response ?? '')}`, LIMITS.sectionText)));
  }
  return { text: clip(`${pending ? 'Question' : 'Answered'} from ${escapeMrkdwn(q.run_id)}: ${escapeMrkdwn(q.msg)}`, LIMITS.messageText), blocks };
}

export function answerModal(q: Pick<QuestionView, 'id' | 'msg'>): Block {
  return {
    type: 'modal',
    callback_id: ANSWER_CALLBACK,
    private_metadata: q.id,
    title: plain('Answer', LIMITS.modalTitle),
    submit: plain('Send', 24),
    close: plain('Cancel', 24),
    blocks: [
      section('holdpoint_answer_question', clip(escapeMrkdwn(q.msg), LIMITS.sectionText)),
      {
        type: 'input',
        block_id: ANSWER_BLOCK,
        label: plain('Your answer', 2000),
        element: { type: 'plain_text_input', action_id: ANSWER_ACTION, multiline: true, max_length: 3000 },
      },
    ],
  };
}
