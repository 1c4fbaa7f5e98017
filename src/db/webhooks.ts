import type { Tx } from './client.ts';

export interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  event_types: string[];
  description: string | null;
  created_at: Date;
  disabled_at: Date | null;
  disabled_reason: string | null;
}

export interface DeliveryRow {
  id: string;
  tenant_id: string;
  event_id: string;
  endpoint_id: string | null;
  target: string;
  url: string;
  payload: string;
  status: 'pending' | 'delivered' | 'failed' | 'dead';
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export async function insertEndpoint(
  tx: Tx,
  e: { tenant_id: string; url: string; event_types: string[]; description: string | null },
): Promise<EndpointRow> {
  const [row] = await tx<EndpointRow[]>`
    INSERT INTO webhook_endpoints (tenant_id, url, event_types, description)
    VALUES (${e.tenant_id}, ${e.url}, ${e.event_types}, ${e.description})
    RETURNING *`;
  return row!;
}

export async function listEndpoints(tx: Tx, tenantId: string): Promise<EndpointRow[]> {
  return tx<EndpointRow[]>`
    SELECT * FROM webhook_endpoints
    WHERE tenant_id = ${tenantId} AND disabled_reason IS DISTINCT FROM 'deleted'
    ORDER BY created_at DESC`;
}

export async function getEndpoint(tx: Tx, tenantId: string, id: string): Promise<EndpointRow | undefined> {
  const [row] = await tx<EndpointRow[]>`
    SELECT * FROM webhook_endpoints
    WHERE id = ${id} AND tenant_id = ${tenantId} AND disabled_reason IS DISTINCT FROM 'deleted'`;
  return row;
}

export async function disableEndpoint(tx: Tx, id: string, reason: string): Promise<EndpointRow | undefined> {
  const [row] = await tx<EndpointRow[]>`
    UPDATE webhook_endpoints SET disabled_at = coalesce(disabled_at, now()), disabled_reason = ${reason}
    WHERE id = ${id} RETURNING *`;
  return row;
}

/**
 * Who receives an event, as a SQL fragment `(endpoint_id, target, url) t`: the
 * approval's callback_url, and every live tenant endpoint subscribed to the type.
 */
export function deliveryTargets(sql: Tx, tenantId: string, callbackUrl: string | null, type: string) {
  return sql`(
    SELECT NULL::uuid AS endpoint_id, 'callback'::text AS target, ${callbackUrl}::text AS url
    WHERE ${callbackUrl}::text IS NOT NULL
    UNION ALL
    SELECT ep.id, ep.id::text, ep.url FROM webhook_endpoints ep
    WHERE ep.tenant_id = ${tenantId} AND ep.disabled_at IS NULL
      AND (cardinality(ep.event_types) = 0 OR ${type} = ANY(ep.event_types))
  ) t`;
}

/** The outbox: one pending delivery per target, in the event's transaction. */
export async function insertDeliveries(
  tx: Tx,
  d: { tenant_id: string; event_id: string; type: string; callback_url: string | null; payload: string; now: Date },
): Promise<{ id: string; event_id: string; target: string }[]> {
  return tx<{ id: string; event_id: string; target: string }[]>`
    INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id, target, url, payload, next_attempt_at, created_at, updated_at)
    SELECT ${d.tenant_id}::uuid, ${d.event_id}::uuid, t.endpoint_id, t.target, t.url, ${d.payload}::text,
           ${d.now}::timestamptz, ${d.now}::timestamptz, ${d.now}::timestamptz
    FROM ${deliveryTargets(tx, d.tenant_id, d.callback_url, d.type)}
    ON CONFLICT (event_id, target) DO NOTHING
    RETURNING id, event_id, target`;
}

export async function getDelivery(tx: Tx, id: string): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`SELECT * FROM webhook_deliveries WHERE id = ${id}`;
  return row;
}

export async function getDeliveryByTarget(tx: Tx, eventId: string, target: string): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`
    SELECT * FROM webhook_deliveries WHERE event_id = ${eventId} AND target = ${target}`;
  return row;
}

export async function getTenantDelivery(tx: Tx, tenantId: string, id: string): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`
    SELECT * FROM webhook_deliveries WHERE id = ${id} AND tenant_id = ${tenantId}`;
  return row;
}

/** Records one attempt's outcome; only a pending delivery moves. */
export async function recordAttempt(
  tx: Tx,
  id: string,
  r: {
    status: DeliveryRow['status'];
    status_code: number | null;
    error: string | null;
    next_attempt_at: Date | null;
    now: Date;
  },
): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`
    UPDATE webhook_deliveries SET
      status = ${r.status},
      attempts = attempts + 1,
      last_status_code = ${r.status_code},
      last_error = ${r.error},
      next_attempt_at = coalesce(${r.next_attempt_at}, next_attempt_at),
      delivered_at = CASE WHEN ${r.status} = 'delivered' THEN ${r.now}::timestamptz ELSE delivered_at END,
      updated_at = ${r.now}
    WHERE id = ${id} AND status = 'pending'
    RETURNING *`;
  return row;
}

export async function listDeliveries(
  tx: Tx,
  tenantId: string,
  f: { status?: DeliveryRow['status'] | undefined; event_id?: string | undefined; limit: number },
): Promise<DeliveryRow[]> {
  return tx<DeliveryRow[]>`
    SELECT * FROM webhook_deliveries
    WHERE tenant_id = ${tenantId}
      ${f.status ? tx`AND status = ${f.status}` : tx``}
      ${f.event_id ? tx`AND event_id = ${f.event_id}` : tx``}
    ORDER BY created_at DESC LIMIT ${f.limit}`;
}

/** A dead or failed delivery goes back to pending, attempts reset. */
export async function resetDelivery(tx: Tx, tenantId: string, id: string, now: Date): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`
    UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ${now}, updated_at = ${now}
    WHERE id = ${id} AND tenant_id = ${tenantId} AND status IN ('dead', 'failed')
    RETURNING *`;
  return row;
}

/** Pending deliveries overdue by more than `graceMs`: their jobs were probably lost with Redis. */
export async function overdueDeliveries(tx: Tx, graceMs: number, limit: number): Promise<{ id: string; event_id: string; target: string }[]> {
  return tx<{ id: string; event_id: string; target: string }[]>`
    SELECT id, event_id, target FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= now() - ${graceMs} * interval '1 millisecond'
    ORDER BY next_attempt_at LIMIT ${limit}`;
}
