// Small pure helpers for the inbox's pages and CSV export.

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h": what a person reads at a glance. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Time left before a deadline, as the countdown shows it. */
export function timeLeft(expiresAt: string | Date, now: Date): string {
  const ms = new Date(expiresAt).getTime() - now.getTime();
  return ms <= 0 ? 'deadline passed' : `${humanDuration(ms / 1000)} left`;
}

/** One CSV field (RFC 4180), defused against spreadsheet formula injection. */
export function csvField(value: unknown): string {
  let s = value === null || value === undefined ? '' : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** Strings longer than this are folded behind a <details> in the params view. */
export const FOLD_AT = 120;

/** A policy reason, whatever shape the engine gave it: what it says, and which rule or guard said it. */
export function reasonText(r: unknown): { text: string; source: string | null } {
  if (typeof r === 'string') return { text: r, source: null };
  if (r && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    const text = o.message ?? o.reason ?? o.description;
    const who = o.rule ?? o.guard ?? o.name;
    const source = typeof who === 'string' ? who : null;
    if (typeof text === 'string') return { text, source: source === text ? null : source };
    if (source) return { text: source, source: null };
  }
  return { text: JSON.stringify(r), source: null };
}
