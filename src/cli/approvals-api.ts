// The HTTP side of `holdpoint approvals`: the approver's calls to a running
// Holdpoint, with the approver's own key, and the server's refusals turned
// into one line a person can act on. No database here: a vote counts as
// whoever the key is bound to, exactly as in the inbox or the API.
import type { ApprovalView } from '../approvals/render.ts';
import { BootError } from './common.ts';

export type Approval = ApprovalView;

/** A refusal from the server (its `code`), already phrased for the terminal. */
export class ApprovalsCliError extends BootError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface ApproverClient {
  list(q: { status?: string | undefined; limit: number }): Promise<Approval[]>;
  get(id: string): Promise<Approval>;
  decide(id: string, decision: 'approve' | 'reject', reason?: string): Promise<Approval>;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: { approval?: Approval } };
}

const REQUEST_TIMEOUT_MS = 15_000;

/** One line that says what went wrong and what to do about it. */
function explain(status: number, body: ErrorBody | undefined, what: string): string {
  const code = body?.error?.code ?? `http_${status}`;
  const message = body?.error?.message ?? `HTTP ${status}`;
  if (status === 401) return `the key was not accepted (${message}): check --key / HOLDPOINT_API_KEY`;
  if (code === 'forbidden') {
    return `${message}. Deciding needs your own approver key (\`holdpoint approver add NAME --tenant ID\` prints one bound to you); an agent key can never decide.`;
  }
  if (status === 403) return `${what} refused: ${message}`;
  if (code === 'already_decided') {
    const a = body?.error?.details?.approval;
    if (!a) return `${what} changed nothing: ${message}`;
    const who = a.decided_by ? ` by ${a.decided_by}` : '';
    return `${what} changed nothing: approval ${a.id} is already ${a.status}${who}${a.decision_reason ? ` ("${a.decision_reason}")` : ''}`;
  }
  if (status === 404) return `${what}: not found (${message})`;
  return `${what} failed: ${message} (${code})`;
}

/**
 * An approver's client for one Holdpoint: `baseUrl` and the approver's key.
 *
 * @example
 * const api = approverClient('http://localhost:8080', 'hp_approver_…');
 * await api.decide(id, 'approve', 'looks right');
 */
export function approverClient(baseUrl: string, key: string, fetchFn: typeof fetch = fetch): ApproverClient {
  const base = baseUrl.replace(/\/+$/, '');

  async function call<T>(method: 'GET' | 'POST', path: string, what: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetchFn(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ApprovalsCliError(`cannot reach Holdpoint at ${base} (${why}): is it running? (--url / HOLDPOINT_URL)`, 'connection_failed');
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const body = parsed as ErrorBody | undefined;
      throw new ApprovalsCliError(explain(res.status, body, what), body?.error?.code ?? `http_${res.status}`);
    }
    return parsed as T;
  }

  return {
    async list({ status, limit }) {
      const out: Approval[] = [];
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ limit: String(Math.min(200, limit - out.length)) });
        if (status) q.set('status', status);
        if (cursor) q.set('cursor', cursor);
        const page: { data: Approval[]; next_cursor: string | null } = await call('GET', `/v1/approvals?${q}`, 'listing approvals');
        out.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor && out.length < limit);
      return out;
    },
    get: (id) => call<Approval>('GET', `/v1/approvals/${encodeURIComponent(id)}`, `approval ${id}`),
    decide: (id, decision, reason) =>
      call<Approval>('POST', `/v1/approvals/${encodeURIComponent(id)}/decision`, `${decision === 'approve' ? 'approving' : 'rejecting'} ${id}`, {
        decision,
        ...(reason ? { reason } : {}),
      }),
  };
}
