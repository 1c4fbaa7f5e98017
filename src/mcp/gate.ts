// Every tools/call is a guard. The SDK does the Holdpoint side (fail closed,
// claim before running, long-poll on the idempotency key, redaction through
// permit.params, complete/fail); this module turns its outcomes into what the
// MCP client sees.
import { ActionClaimed, ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, HoldpointError, type Approval, type Holdpoint, type Permit } from '../sdk/index.ts';
import { actionOf, callKey, type RequestId } from './key.ts';
import { cancelledResult, deniedResult, errorResult, expiredResult, inboxLink, recordOf, rejectedResult, replayedResult, type ToolResult } from './results.ts';

export interface GateOptions {
  hp: Holdpoint;
  agentId: string;
  /** Where approvers decide (the inbox link): Holdpoint's public URL. */
  inboxUrl: string;
  /** How often a held call tells the client it is still waiting. */
  progressIntervalMs: number;
  /** A finished approval older than this is a new call that reuses an id and arguments, not a retry. */
  retryWindowMs: number;
  /** The execution lease on an approved call; a proxy killed while running frees it after this long. */
  leaseSeconds: number;
  now?: () => number;
  /** Where a report that could not be made is said (the call ran; its result still goes to the client). */
  log?: (line: string) => void;
}

export interface ToolCall {
  server: string;
  tool: string;
  args: Record<string, unknown>;
  requestId: RequestId;
  /** Recorded as the approval's context (who asked, through which session). */
  context: Record<string, unknown>;
}

/** What the relay does for the gate while a call is held or run. */
export interface CallIo {
  /** A progress notification to the client (only when it sent a progress token). */
  progress(progress: number, message: string): void;
  /** Offers the inbox link (URL-mode elicitation, when the client declared it); `done` when the hold ends. */
  offerLink(url: string, approvalId: string, message: string): { done(): void };
  /** Sends the call upstream with these arguments; resolves to the upstream's result, or throws its JSON-RPC error. */
  forward(args: Record<string, unknown>): Promise<ToolResult>;
  signal: AbortSignal;
}

/** The upstream answered the forwarded call with a JSON-RPC error (not a tool result). */
export class UpstreamError extends Error {
  constructor(readonly error: { code: number; message: string; data?: unknown }) {
    super(error.message);
  }
}

const MAX_GENERATIONS = 50;

const finishedAt = (a: Approval): number | null => {
  const t = a.completed_at ?? a.decided_at;
  return t ? Date.parse(t) : null;
};

export function createGate(o: GateOptions) {
  const now = o.now ?? Date.now;
  const stale = (a: Approval) => {
    if (a.status === 'pending' || a.status === 'approved' || a.status === 'executing') return false;
    const t = finishedAt(a);
    return t !== null && now() - t > o.retryWindowMs;
  };

  /** The guard for one generation of the key; throws what `hp.guard` throws. */
  const guard = (c: ToolCall, key: string, extra: { wait?: true; signal?: AbortSignal } = {}) =>
    o.hp.guard(actionOf(c.server, c.tool), {
      idempotencyKey: key,
      params: c.args,
      agentId: o.agentId,
      context: c.context,
      leaseSeconds: o.leaseSeconds,
      ...extra,
    });

  async function hold(c: ToolCall, key: string, pending: ApprovalPending, io: CallIo): Promise<Permit> {
    const url = inboxLink(o.inboxUrl, pending.approvalId);
    const action = actionOf(c.server, c.tool);
    const message = `Waiting for a human to approve ${action} in Holdpoint: ${url} (expires ${pending.expiresAt.toISOString()})`;
    const link = io.offerLink(url, pending.approvalId, message);
    let n = 1;
    io.progress(n, message);
    const timer = setInterval(() => io.progress(++n, message), o.progressIntervalMs);
    try {
      return await guard(c, key, { wait: true, signal: io.signal });
    } finally {
      clearInterval(timer);
      link.done();
    }
  }

  const unreported = (permit: Permit) => (err: unknown) =>
    o.log?.(`could not report the outcome of ${permit.approvalId ? `approval ${permit.approvalId}` : `decision ${permit.decisionId}`}: ${(err as Error)?.message ?? err}`);

  async function run(permit: Permit, io: CallIo): Promise<ToolResult> {
    let result: ToolResult;
    try {
      result = await io.forward(permit.params);
    } catch (err) {
      await permit.fail(err instanceof UpstreamError ? { name: 'UpstreamError', ...err.error } : err).catch(unreported(permit));
      throw err;
    }
    // isError is the tool saying it failed: it ran, and failed.
    const record = recordOf(result);
    await (result.isError ? permit.fail(record) : permit.complete(record)).catch(unreported(permit));
    return result;
  }

  return {
    /**
     * Guards one tool call and, when allowed or approved, runs it through
     * `io.forward` with the granted arguments (redacted or approved), reporting
     * the outcome. Never throws for a Holdpoint outcome: a deny, rejection,
     * expiry or outage is an `isError` result. Throws `UpstreamError` when the
     * upstream answered the forwarded call with a JSON-RPC error, and an
     * `AbortError` when the client cancelled the call.
     */
    async call(c: ToolCall, io: CallIo): Promise<ToolResult> {
      const action = actionOf(c.server, c.tool);
      for (let g = 0; g < MAX_GENERATIONS; g++) {
        const key = callKey({ agentId: o.agentId, server: c.server, tool: c.tool, requestId: c.requestId, args: c.args }, g);
        let permit: Permit;
        try {
          try {
            permit = await guard(c, key, { signal: io.signal });
          } catch (err) {
            if (!(err instanceof ApprovalPending)) throw err;
            permit = await hold(c, key, err, io);
          }
        } catch (err) {
          if (io.signal.aborted) throw err; // the client cancelled: it expects no answer
          if (err instanceof ActionDenied) return deniedResult(action, err.reasons, err.decisionId);
          const approval = (err as { approval?: Approval }).approval;
          if (approval && stale(approval)) continue; // an old call's key: this one is new
          if (err instanceof ActionRejected) return rejectedResult(err.approval);
          if (err instanceof ActionTimeout) return expiredResult(err.approval);
          if (err instanceof ApprovalPending) return errorResult(`Holdpoint: ${action} is still waiting for a decision (approval ${err.approvalId}); retry the call to keep waiting.`, { status: 'pending', approval_id: err.approvalId });
          if (err instanceof ActionClaimed) {
            if (err.approvalStatus === 'completed' || err.approvalStatus === 'failed') return replayedResult(err.approval);
            return errorResult(`Holdpoint: ${action} is already being run (approval ${err.approvalId}, lease until ${err.approval.claim_expires_at ?? 'unknown'}); it was not run again.`, { status: 'executing', approval_id: err.approvalId });
          }
          if (err instanceof HoldpointError && err.code === 'cancelled' && approval) return cancelledResult(approval);
          // Fail closed: Holdpoint unreachable, a refused key, a server error, params JSON cannot carry.
          const why = err instanceof HoldpointError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
          return errorResult(`Holdpoint could not decide on ${action} (${why}); the call was not run.`, { status: 'error', code: err instanceof HoldpointError ? err.code : 'error' });
        }
        return run(permit, io);
      }
      return errorResult(`Holdpoint: too many earlier calls reuse this request id and these arguments; the call was not run.`, { status: 'error', code: 'key_generations' });
    },

    /** True when the policy denies this tool with empty arguments (for --hide-denied). */
    async deniedOutright(server: string, tool: string): Promise<boolean> {
      const d = await o.hp.check(actionOf(server, tool), { params: {}, agentId: o.agentId });
      return d.denied;
    },
  };
}

export type Gate = ReturnType<typeof createGate>;
