// Approvers: the people of a tenant who may decide, and the ways each one is
// recognised (bound keys, Slack user, OpenID Connect subject, e-mail).
import type { Tx } from './client.ts';

export interface ApproverRow {
  tenant_id: string;
  name: string;
  email: string | null;
  slack_user_id: string | null;
  oidc_subject: string | null;
  created_by: string | null;
  created_at: Date;
}

export interface NewApprover {
  tenant_id: string;
  name: string;
  email?: string | null | undefined;
  slack_user_id?: string | null | undefined;
  oidc_subject?: string | null | undefined;
  created_by?: string | null | undefined;
}

/** Inserts an approver; undefined when the name, e-mail, Slack user or subject is already taken in the tenant. */
export async function insertApprover(tx: Tx, a: NewApprover): Promise<ApproverRow | undefined> {
  const [row] = await tx<ApproverRow[]>`
    INSERT INTO approvers (tenant_id, name, email, slack_user_id, oidc_subject, created_by)
    VALUES (${a.tenant_id}, ${a.name}, ${a.email ?? null}, ${a.slack_user_id ?? null}, ${a.oidc_subject ?? null}, ${a.created_by ?? null})
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, name, email, slack_user_id, oidc_subject, created_by, created_at`;
  return row;
}

/** Which of name / email / slack_user_id / oidc_subject another approver already holds. */
export async function takenFields(tx: Tx, a: NewApprover): Promise<string[]> {
  const rows = await tx<{ name: string; email: string | null; slack_user_id: string | null; oidc_subject: string | null }[]>`
    SELECT name, email, slack_user_id, oidc_subject FROM approvers
    WHERE tenant_id = ${a.tenant_id}
      AND (name = ${a.name}
        OR (${a.email ?? null}::text IS NOT NULL AND lower(email) = lower(${a.email ?? null}::text))
        OR (${a.slack_user_id ?? null}::text IS NOT NULL AND slack_user_id = ${a.slack_user_id ?? null}::text)
        OR (${a.oidc_subject ?? null}::text IS NOT NULL AND oidc_subject = ${a.oidc_subject ?? null}::text))`;
  const out = new Set<string>();
  for (const r of rows) {
    if (r.name === a.name) out.add('name');
    if (a.email && r.email?.toLowerCase() === a.email.toLowerCase()) out.add('email');
    if (a.slack_user_id && r.slack_user_id === a.slack_user_id) out.add('slack_user_id');
    if (a.oidc_subject && r.oidc_subject === a.oidc_subject) out.add('oidc_subject');
  }
  return [...out];
}

export async function getApprover(tx: Tx, tenantId: string, name: string): Promise<ApproverRow | undefined> {
  const [row] = await tx<ApproverRow[]>`
    SELECT tenant_id, name, email, slack_user_id, oidc_subject, created_by, created_at
    FROM approvers WHERE tenant_id = ${tenantId} AND name = ${name}`;
  return row;
}

export async function listApprovers(tx: Tx, tenantId: string): Promise<ApproverRow[]> {
  return tx<ApproverRow[]>`
    SELECT tenant_id, name, email, slack_user_id, oidc_subject, created_by, created_at
    FROM approvers WHERE tenant_id = ${tenantId} ORDER BY name`;
}

/** Removes the approver and revokes every key bound to it; undefined when there was none. */
export async function deleteApprover(tx: Tx, tenantId: string, name: string): Promise<{ approver: ApproverRow; revoked_keys: number } | undefined> {
  const [row] = await tx<ApproverRow[]>`
    DELETE FROM approvers WHERE tenant_id = ${tenantId} AND name = ${name}
    RETURNING tenant_id, name, email, slack_user_id, oidc_subject, created_by, created_at`;
  if (!row) return undefined;
  const revoked = await tx`
    UPDATE api_keys SET revoked_at = now()
    WHERE tenant_id = ${tenantId} AND approver = ${name} AND revoked_at IS NULL`;
  return { approver: row, revoked_keys: revoked.count };
}

/** The approver a Slack user is, if an admin said so. */
export async function approverBySlackUser(tx: Tx, tenantId: string, slackUserId: string): Promise<ApproverRow | undefined> {
  const [row] = await tx<ApproverRow[]>`
    SELECT tenant_id, name, email, slack_user_id, oidc_subject, created_by, created_at
    FROM approvers WHERE tenant_id = ${tenantId} AND slack_user_id = ${slackUserId}`;
  return row;
}

/** The approver an identity provider's verified subject (first) or verified e-mail maps to. */
export async function approverByOidc(tx: Tx, tenantId: string, subject: string, verifiedEmail: string | null): Promise<ApproverRow | undefined> {
  const [row] = await tx<ApproverRow[]>`
    SELECT tenant_id, name, email, slack_user_id, oidc_subject, created_by, created_at
    FROM approvers
    WHERE tenant_id = ${tenantId}
      AND (oidc_subject = ${subject} OR (${verifiedEmail}::text IS NOT NULL AND lower(email) = lower(${verifiedEmail}::text)))
    ORDER BY (oidc_subject = ${subject}) DESC NULLS LAST
    LIMIT 1`;
  return row;
}

/** Is this name an approver of the tenant? (guard refuses it as an agent_id.) */
export async function isApproverName(tx: Tx, tenantId: string, name: string): Promise<boolean> {
  const [row] = await tx<{ one: number }[]>`SELECT 1 AS one FROM approvers WHERE tenant_id = ${tenantId} AND lower(name) = lower(${name})`;
  return row !== undefined;
}
