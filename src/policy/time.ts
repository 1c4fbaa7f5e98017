// Time of day in a time zone: the rule condition `match.time` and the `time`
// variable of custom guards. Pure: the instant is `now` (epoch ms) from the
// edge's clock, never read here; the zone conversion is Intl.DateTimeFormat,
// which follows the IANA database (so daylight-saving changes are exact).
// The agent controls none of this.
import { z } from 'zod';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalTime {
  weekday: Weekday;
  hour: number;
  minute: number;
  /** YYYY-MM-DD in the zone. */
  date: string;
  tz: string;
}

// One formatter per zone: building one costs far more than using it.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Why `tz` is not a time zone Intl knows, or undefined when it is. */
export function timeZoneProblem(tz: string): string | undefined {
  try {
    formatter(tz);
    return undefined;
  } catch {
    return `unknown time zone "${tz}" (use an IANA name such as Europe/Berlin or America/New_York)`;
  }
}

export const timeZone = z
  .string()
  .min(1)
  .max(100)
  .superRefine((tz, ctx) => {
    const problem = timeZoneProblem(tz);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** The wall-clock time at `now` in `tz` (a zone that passed timeZoneProblem). */
export function localTime(now: number, tz: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(now))) parts[p.type] = p.value;
  const weekday = parts.weekday!.toLowerCase().slice(0, 3) as Weekday;
  return {
    weekday,
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    date: `${parts.year}-${parts.month}-${parts.day}`,
    tz,
  };
}

// "09:00"; "24:00" only as the end of a window (up to midnight).
const clock = (allowMidnightEnd: boolean) =>
  z.string().regex(allowMidnightEnd ? /^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$/ : /^(?:[01]\d|2[0-3]):[0-5]\d$/, allowMidnightEnd ? 'a time HH:MM (00:00–24:00)' : 'a time HH:MM (00:00–23:59)');

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export const TimeConditionSchema = z
  .strictObject({
    /** IANA zone the days and hours are read in (default UTC). */
    tz: timeZone.default('UTC'),
    days: z.array(z.enum(WEEKDAYS)).min(1).max(7).optional(),
    /** [start, end): start inclusive, end exclusive; an end before the start wraps past midnight. */
    between: z.tuple([clock(false), clock(true)]).optional(),
    /** Match when the time is NOT inside days/between. */
    outside: z.boolean().default(false),
  })
  .superRefine((t, ctx) => {
    if (t.days === undefined && t.between === undefined) ctx.addIssue({ code: 'custom', message: 'a time condition needs days, between, or both' });
    if (t.between && minutes(t.between[0]) === minutes(t.between[1])) {
      ctx.addIssue({ code: 'custom', path: ['between'], message: 'between needs a start and an end that differ (use days alone for whole days)' });
    }
  });

export type TimeCondition = z.output<typeof TimeConditionSchema>;

/**
 * Is `now` inside the condition's days and hours (in its zone), or — with
 * `outside` — not? `days` is the weekday of the instant itself, so with
 * days [fri] and between ["22:00", "06:00"] Saturday 02:00 is not inside.
 */
export function timeConditionHolds(cond: TimeCondition, now: number): boolean {
  const t = localTime(now, cond.tz);
  let inside = cond.days === undefined || cond.days.includes(t.weekday);
  if (inside && cond.between) {
    const m = t.hour * 60 + t.minute;
    const start = minutes(cond.between[0]);
    const end = minutes(cond.between[1]);
    inside = start < end ? m >= start && m < end : m >= start || m < end;
  }
  return cond.outside ? !inside : inside;
}
