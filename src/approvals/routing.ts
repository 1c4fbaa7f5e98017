// What an agent may change about its own review: a pure check of the agent's
// requested deadline and channel against the route the policy chose.
//
// * The agent may shorten the deadline only where running out of time rejects
//   (on_timeout: reject) — never where it approves — and never below the
//   route's min_timeout_seconds. It can never lengthen it.
// * The agent may pick a channel only among the route's agent_may_route_to
//   (empty by default): otherwise it could send the approval to a channel or
//   DM its own operator watches, who then approves.
import type { Routing } from '../policy/evaluate.ts';

export interface AgentRequest {
  timeout_seconds?: number | undefined;
  slack_channel?: string | null | undefined;
}

export type RoutingOutcome =
  | { ok: true; routing: Routing; timeout_seconds: number }
  | { ok: false; code: 'timeout_not_allowed' | 'channel_not_allowed'; message: string; details: Record<string, unknown> };

export function applyAgentRequest(route: Routing, req: AgentRequest): RoutingOutcome {
  let timeout = route.timeout_seconds;
  const asked = req.timeout_seconds;
  if (asked !== undefined && asked < route.timeout_seconds) {
    if (route.on_timeout === 'approve') {
      return {
        ok: false,
        code: 'timeout_not_allowed',
        message: `this route approves when its deadline passes (on_timeout: approve), so the agent cannot shorten its ${route.timeout_seconds} s deadline`,
        details: { field: 'timeout_seconds', timeout_seconds: route.timeout_seconds, on_timeout: route.on_timeout },
      };
    }
    if (asked < route.min_timeout_seconds) {
      return {
        ok: false,
        code: 'timeout_not_allowed',
        message: `timeout_seconds ${asked} is below this route's minimum of ${route.min_timeout_seconds} s`,
        details: { field: 'timeout_seconds', min_timeout_seconds: route.min_timeout_seconds },
      };
    }
    timeout = asked;
  }
  let routing = route;
  const channel = req.slack_channel ?? null;
  if (channel !== null && channel !== route.slack_channel) {
    if (!route.agent_may_route_to.includes(channel)) {
      const allowed = route.agent_may_route_to;
      return {
        ok: false,
        code: 'channel_not_allowed',
        message:
          allowed.length === 0
            ? `this route does not let the agent choose a channel (the policy routes it${route.slack_channel ? ` to ${route.slack_channel}` : ''}); an admin can list channels in approval.agent_may_route_to`
            : `the agent may route this approval only to ${allowed.join(', ')}`,
        details: { field: 'slack_channel', allowed },
      };
    }
    routing = { ...route, slack_channel: channel };
  }
  return { ok: true, routing, timeout_seconds: timeout };
}
