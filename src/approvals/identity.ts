// Who may appear as the author of a vote. Pure.
//
// Approvers are people with names an admin gave them. The engine writes names
// of its own — `system`, `timeout`, and prefixed ones for callers it could not
// map to a person (`key:<prefix>`, `slack:<user>`, `web:…`, `email:…`,
// `oidc:…`) — and no caller may ever claim one of those. An approver name
// therefore never contains a colon and is never one of the reserved words.

export const RESERVED_NAMES: readonly string[] = ['system', 'timeout'];
export const ENGINE_PREFIXES: readonly string[] = ['key:', 'slack:', 'web:', 'email:', 'oidc:'];

/** The rule for an approver's name, as a regex (used by zod and mirrored by a CHECK in sql/0006). */
export const APPROVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$/;

/** A name the engine writes (or reserves), which no request may claim. */
export function isEngineName(name: string): boolean {
  const n = name.trim().toLowerCase();
  return RESERVED_NAMES.includes(n) || n.includes(':');
}

/** Why this cannot be an approver's name, or null when it can. */
export function approverNameProblem(name: string): string | null {
  if (isEngineName(name)) return `"${name}" is a name the engine writes (system, timeout, or one with a colon); pick another`;
  if (!APPROVER_NAME.test(name)) return 'an approver name is 1-200 characters: letters, digits and . _ @ + - (starting with a letter or digit)';
  return null;
}
