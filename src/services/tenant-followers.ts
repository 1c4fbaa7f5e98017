// What the two per-tenant fan-outs (the live feed's, src/services/feeds.ts,
// and the dashboard's, src/services/decision-feed.ts) share: a map of tenant →
// feed, where a feed lives while anyone follows it. The first follower makes
// it (each hub builds its own: what it reads and when differ); the last one to
// stop tears it down — its heartbeat timer, its chain subscription and its map
// entry — unless a newer feed has taken the tenant's place meanwhile.

/** The part of a tenant's feed that joining and leaving touch. */
export interface TenantFollowing<F> {
  followers: Set<F>;
  timer: NodeJS.Timeout;
  unsubscribe: () => void;
}

/** A follow refused because the hub has closed (the process is shutting down): the follower is told at once. */
export function closedFollow(follower: { closed(): void }): { stop(): void } {
  follower.closed();
  return { stop() {} };
}

/** Adds `member` to the tenant's feed; its stop() takes it out, and the last one out tears the feed down. */
export function joinTenant<F, T extends TenantFollowing<F>>(feeds: Map<string, T>, tenantId: string, feed: T, member: F): { stop(): void } {
  feed.followers.add(member);
  return {
    stop() {
      feed.followers.delete(member);
      if (feed.followers.size === 0 && feeds.get(tenantId) === feed) {
        clearInterval(feed.timer);
        feed.unsubscribe();
        feeds.delete(tenantId);
      }
    },
  };
}
