import type { Role } from '../db/keys.ts';

export interface Auth {
  tenant_id: string;
  key_id: string;
  key_prefix: string;
  role: Role;
  /** Approver identity bound to the key, if any. */
  approver: string | null;
}

export type AppEnv = { Variables: { auth: Auth; requestId: string } };
