// A seeded PRNG (mulberry32), so a failing chaos run can be replayed with
// CHAOS_SEED: the fault schedule and every driver choice come from it. (What
// the processes do in between is not deterministic; the choices are.)
export interface Rng {
  seed: number;
  /** [0, 1) */
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  /** Picks a key by weight. */
  weighted<K extends string>(weights: Record<K, number>): K;
  shuffle<T>(items: T[]): T[];
  /** An independent stream, so one consumer's draws do not shift another's. */
  fork(label: string): Rng;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
    weighted(weights) {
      const entries = Object.entries(weights) as [keyof typeof weights, number][];
      let r = next() * entries.reduce((a, [, w]) => a + w, 0);
      for (const [k, w] of entries) {
        r -= w;
        if (r < 0) return k;
      }
      return entries[entries.length - 1]![0];
    },
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
    fork(label) {
      let h = seed ^ 0x9e3779b9;
      for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 0x85ebca6b) >>> 0;
      return createRng(h >>> 0);
    },
  };
  return rng;
}
