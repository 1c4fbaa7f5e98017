// holdpoint/client/compat/haltstate: the HaltState TypeScript SDK's names
// (seed 002's quickstart: `new HaltStateClient({ tenantId, apiKey })`,
// `client.guard(action, params, key)`, `permit.complete()`, `ApprovalPending`,
// `ActionDenied`) on Holdpoint, so existing code changes its import line.
// A sub-path of its own, so `holdpoint/client` keeps one name per thing.
import { Holdpoint } from '../client.ts';
import type { HoldpointOptions } from '../options.ts';

export { ActionClaimed, ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, AuthError, ConnectionError, HoldpointError, InvalidRequest, ServerError } from '../errors.ts';
export type { Permit } from '../types.ts';

/**
 * The seed's constructor options. `tenantId` is accepted and ignored: a
 * Holdpoint key names its tenant, so there is nothing to say it with (and a
 * caller naming another tenant could not reach it anyway). `apiKey` is a
 * Holdpoint agent key; `baseUrl` defaults to `HOLDPOINT_URL`. Every other
 * `Holdpoint` option (`agentId`, `failOpen`, `timeoutMs`, …) works too.
 *
 * @example
 * const opts: HaltStateClientOptions = { tenantId: 'acme', apiKey: process.env.HOLDPOINT_API_KEY!, baseUrl: 'http://localhost:8080' };
 */
export interface HaltStateClientOptions extends HoldpointOptions {
  tenantId?: string;
  apiKey: string;
}

/**
 * `Holdpoint` under the HaltState SDK's name and constructor: `guard(action,
 * params, idempotencyKey)` returns a Permit once allowed or approved (and
 * claimed), else throws `ApprovalPending` (`approvalId`) or `ActionDenied`;
 * `permit.complete()` reports it done. See docs/sdk.md for the rest.
 *
 * @example
 * import { HaltStateClient, ApprovalPending, ActionDenied } from 'holdpoint/client/compat/haltstate';
 *
 * const client = new HaltStateClient({ tenantId: 'your-tenant-id', apiKey: process.env.HOLDPOINT_API_KEY! });
 * const permit = await client.guard('database.delete', { table: 'users', id: 123 }, 'delete-user-123');
 * await deleteUser(123);
 * await permit.complete();
 */
export class HaltStateClient extends Holdpoint {
  /** As given; Holdpoint never sends it (the key names the tenant). */
  readonly tenantId: string | undefined;

  constructor(options: HaltStateClientOptions) {
    const { tenantId, ...rest } = options ?? ({} as HaltStateClientOptions);
    super(rest);
    this.tenantId = tenantId;
  }
}
