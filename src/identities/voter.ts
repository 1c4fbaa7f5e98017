// Who a vote is from: decided by the credential, never by the request body.
//
// * A key bound to an approver votes as that approver. Naming the same person
//   in the body is harmless; naming anyone else is refused.
// * A key bound to no one votes as `key:<prefix>`: one voice, which never
//   satisfies a route that names `approvers.identities`.
// * Only a key with the `assert_identity` permission (an integration that
//   authenticated the person itself) may name the approver, and only a person
//   the tenant has as an approver. The vote is that person's; the audit event
//   also records the key that asserted it.
// * Names the engine writes (`system`, `key:…`, `slack:…`, …) are never
//   approvers, so no caller can claim one.
import type { Auth } from '../api/env.ts';
import { isEngineName } from '../approvals/identity.ts';
import { getApprover } from '../db/approvers.ts';
import type { Tx } from '../db/client.ts';
import { AppError } from '../errors.ts';

export interface Voter {
  /** The approver identity the vote counts as. */
  approver: string;
  /** Set when an integration named the person: the key that did (`key:<prefix>`). */
  asserted_by?: string;
}

export const keyIdentity = (auth: Pick<Auth, 'key_prefix'>) => `key:${auth.key_prefix}`;

/** The voter when nobody is named: the bound approver, else the key itself. */
export function ownVoter(auth: Pick<Auth, 'approver' | 'key_prefix'>): Voter {
  // A binding to an engine name (possible only in data written before 0006) is no binding.
  const bound = auth.approver && !isEngineName(auth.approver) ? auth.approver : null;
  return { approver: bound ?? keyIdentity(auth) };
}

export async function resolveVoter(sql: Tx, auth: Auth, claimed: string | undefined): Promise<Voter> {
  if (claimed === undefined || claimed === (auth.approver ?? undefined)) return ownVoter(auth);
  if (isEngineName(claimed)) {
    throw new AppError('forbidden', `"${claimed}" is a name the engine writes; no caller may decide as it`, { field: 'approver' });
  }
  if (!auth.permissions.includes('assert_identity')) {
    const as = auth.approver ? `this key decides as ${auth.approver}` : `this key decides as ${keyIdentity(auth)}`;
    throw new AppError('forbidden', `${as}; naming another approver needs a key with the assert_identity permission`, { field: 'approver' });
  }
  const person = await getApprover(sql, auth.tenant_id, claimed);
  if (!person) {
    throw new AppError('unknown_approver', `no approver named "${claimed}" in this tenant (holdpoint approver add ${claimed} --tenant …)`, { field: 'approver' });
  }
  return { approver: person.name, asserted_by: keyIdentity(auth) };
}
