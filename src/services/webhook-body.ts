// The body of an outbound webhook: the event and the approval as it was then.
// Kept exactly, per delivery, so every retry sends the same bytes.
import type { ApprovalView } from '../approvals/render.ts';

export function webhookBody(event: { id: string; type: string; created_at: Date }, approval: ApprovalView): string {
  return JSON.stringify({ type: event.type, id: event.id, created_at: event.created_at.toISOString(), data: approval });
}
