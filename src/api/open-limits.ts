// Caps on what one credential holds open in this API process: live-feed
// streams and long-polls. Each costs a socket and a follower or waiter, so one
// key must not be able to take them all. Counted in process (no Redis on this
// path); with N API processes a key can hold up to N times the cap.
export type OpenKind = 'stream' | 'poll';

export interface OpenLimits {
  /** A release function, or null when `holder` already has its cap of `kind` open. */
  acquire(kind: OpenKind, holder: string): (() => void) | null;
  open(kind: OpenKind, holder: string): number;
}

export function createOpenLimits(caps: Record<OpenKind, number>): OpenLimits {
  const counts: Record<OpenKind, Map<string, number>> = { stream: new Map(), poll: new Map() };
  return {
    acquire(kind, holder) {
      const m = counts[kind];
      const n = m.get(holder) ?? 0;
      if (n >= caps[kind]) return null;
      m.set(holder, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (m.get(holder) ?? 1) - 1;
        if (left <= 0) m.delete(holder);
        else m.set(holder, left);
      };
    },
    open: (kind, holder) => counts[kind].get(holder) ?? 0,
  };
}
