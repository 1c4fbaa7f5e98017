// What the model reads when a call does not run, and what the audit trail
// records when it does. Pure.
import type { Approval, Reason } from '../sdk/index.ts';

/** The shape of an MCP `tools/call` result, as far as the proxy needs it. */
export interface ToolResult {
  content: Array<Record<string, unknown> & { type: string }>;
  isError?: boolean;
  structuredContent?: unknown;
  _meta?: Record<string, unknown>;
  [k: string]: unknown;
}

export const errorResult = (text: string, meta?: Record<string, unknown>): ToolResult => ({
  content: [{ type: 'text', text }],
  isError: true,
  ...(meta ? { _meta: { 'holdpoint/outcome': meta } } : {}),
});

const reasonsText = (reasons: Reason[]) => reasons.map((r) => `${r.rule ? `${r.rule}: ` : ''}${r.message}`).join('; ') || 'no reason given';

export function deniedResult(action: string, reasons: Reason[], decisionId: string): ToolResult {
  return errorResult(`Holdpoint denied ${action}: ${reasonsText(reasons)}. The call was not run.`, { status: 'denied', decision_id: decisionId, reasons });
}

export function rejectedResult(a: Approval): ToolResult {
  return errorResult(
    `Holdpoint: ${a.decided_by ?? 'an approver'} rejected ${a.action}${a.decision_reason ? `: "${a.decision_reason}"` : ' (no reason given)'}. The call was not run.`,
    { status: 'rejected', approval_id: a.id, decided_by: a.decided_by, reason: a.decision_reason },
  );
}

export function expiredResult(a: Approval): ToolResult {
  return errorResult(`Holdpoint: nobody decided on ${a.action} before its deadline (${a.expires_at}); it expired and the call was not run.`, {
    status: 'expired',
    approval_id: a.id,
    expires_at: a.expires_at,
  });
}

export function cancelledResult(a: Approval): ToolResult {
  return errorResult(`Holdpoint: the approval for ${a.action} was cancelled${a.decision_reason ? `: "${a.decision_reason}"` : ''}. The call was not run.`, {
    status: 'cancelled',
    approval_id: a.id,
  });
}

/** The link an approver opens: the approval's page in the web inbox. */
export function inboxLink(inboxBase: string, approvalId: string): string {
  return `${inboxBase.replace(/\/+$/, '')}/ui/approvals/${approvalId}`;
}

const TEXT_LIMIT = 8_000;
const clip = (s: string) => (s.length > TEXT_LIMIT ? { text: s.slice(0, TEXT_LIMIT), truncated: s.length } : { text: s });

/**
 * A tool result as the audit trail keeps it: text (the first 8 000 characters
 * of each item, `truncated` giving the full length), and for images, audio and
 * binary resources their type and size, never the bytes.
 */
export function recordOf(result: ToolResult): Record<string, unknown> {
  const content = (Array.isArray(result.content) ? result.content : []).map((c) => {
    if (c.type === 'text' && typeof c.text === 'string') return { type: 'text', ...clip(c.text) };
    if ((c.type === 'image' || c.type === 'audio') && typeof c.data === 'string') return { type: c.type, mimeType: c.mimeType, bytes: Math.floor((c.data.length * 3) / 4) };
    if (c.type === 'resource' && typeof c.resource === 'object' && c.resource) {
      const r = c.resource as Record<string, unknown>;
      return { type: 'resource', uri: r.uri, mimeType: r.mimeType, ...(typeof r.text === 'string' ? clip(r.text) : typeof r.blob === 'string' ? { bytes: Math.floor((r.blob.length * 3) / 4) } : {}) };
    }
    if (c.type === 'resource_link') return { type: c.type, uri: c.uri, name: c.name };
    return { type: c.type };
  });
  const structured = result.structuredContent === undefined ? undefined : JSON.stringify(result.structuredContent);
  return {
    isError: result.isError === true,
    content,
    ...(structured !== undefined && structured.length <= TEXT_LIMIT ? { structuredContent: result.structuredContent } : {}),
  };
}

/**
 * A finished approval's recorded result, handed back to a retry of a call that
 * already ran, so the retry does not run it again.
 */
export function replayedResult(a: Approval): ToolResult {
  const rec = (a.status === 'completed' ? a.result : a.error) as { content?: ToolResult['content']; isError?: boolean; structuredContent?: unknown } | null;
  const note = `Holdpoint: this call already ran (approval ${a.id}, ${a.status} at ${a.completed_at ?? 'an earlier time'}); this is its recorded result, not a new run.`;
  const content = Array.isArray(rec?.content) ? rec.content.filter((c) => c.type === 'text').map((c) => ({ type: 'text', text: String(c.text) })) : [];
  return {
    content: [...content, { type: 'text', text: note }],
    isError: a.status === 'failed' || rec?.isError === true,
    _meta: { 'holdpoint/outcome': { status: 'replayed', approval_id: a.id } },
  };
}
