// Adding and removing approvers: the people who may decide. Shared by the CLI
// (`holdpoint approver add|list|remove`) and the admin API (/v1/approvers).
// Adding one mints an approver key bound to it in the same transaction, so a
// person is never half-created; removing one revokes every key bound to it.
import { z } from 'zod';
import { approverNameProblem } from '../approvals/identity.ts';
import * as approversDb from '../db/approvers.ts';
import type { ApproverRow } from '../db/approvers.ts';
import type { Sql } from '../db/client.ts';
import { insertKey } from '../db/keys.ts';
import { AppError } from '../errors.ts';

const name = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .superRefine((n, ctx) => {
    const problem = approverNameProblem(n);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const NewApproverSchema = z.strictObject({
  name,
  email: z.string().trim().toLowerCase().email().max(320).optional(),
  slack_user_id: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id like U01ABC').optional(),
  oidc_subject: z.string().min(1).max(255).optional(),
  /** Mint an approver key bound to this person (default true). */
  key: z.boolean().default(true),
});
export type NewApproverInput = z.input<typeof NewApproverSchema>;

export function renderApprover(a: ApproverRow) {
  return {
    name: a.name,
    email: a.email,
    slack_user_id: a.slack_user_id,
    oidc_subject: a.oidc_subject,
    created_by: a.created_by,
    created_at: a.created_at.toISOString(),
  };
}
export type ApproverView = ReturnType<typeof renderApprover>;

/** Creates the approver and (unless key: false) an approver key bound to it; 409 `conflict` names what is taken. */
export async function addApprover(
  sql: Sql,
  tenantId: string,
  input: z.output<typeof NewApproverSchema>,
  createdBy: string,
): Promise<{ approver: ApproverView; api_key: string | null }> {
  return sql.begin(async (tx) => {
    const fields = { tenant_id: tenantId, name: input.name, email: input.email, slack_user_id: input.slack_user_id, oidc_subject: input.oidc_subject, created_by: createdBy };
    const row = await approversDb.insertApprover(tx, fields);
    if (!row) {
      const taken = await approversDb.takenFields(tx, fields);
      throw new AppError('conflict', `another approver already has this ${taken.join(', ') || 'name'}`, { fields: taken });
    }
    const key = input.key ? await insertKey(tx, { tenant_id: tenantId, role: 'approver', name: `approver ${row.name}`, approver: row.name }) : null;
    return { approver: renderApprover(row), api_key: key?.key ?? null };
  });
}

export async function removeApprover(sql: Sql, tenantId: string, approverName: string): Promise<{ approver: ApproverView; revoked_keys: number }> {
  const out = await sql.begin((tx) => approversDb.deleteApprover(tx, tenantId, approverName));
  if (!out) throw new AppError('not_found', `no approver named "${approverName}"`);
  return { approver: renderApprover(out.approver), revoked_keys: out.revoked_keys };
}

export async function listApprovers(sql: Sql, tenantId: string): Promise<ApproverView[]> {
  return (await approversDb.listApprovers(sql, tenantId)).map(renderApprover);
}
