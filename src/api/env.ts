import type { Permission, Role } from '../db/keys.ts';
import type { Logger } from '../log.ts';

export interface Auth {
  tenant_id: string;
  key_id: string;
  key_prefix: string;
  role: Role;
  /** Approver identity bound to the key, if any. */
  approver: string | null;
  /** Beyond the role: `assert_identity` lets the key name the approver on a decision. */
  permissions: readonly Permission[];
}

/** requestId and log (a child logger carrying request_id) are set by the request-id middleware on every request. */
export type AppEnv = { Variables: { auth: Auth; requestId: string; log: Logger } };
