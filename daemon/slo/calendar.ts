// Calendar arithmetic in IANA time zones with Intl only: local midnight of a date as a UTC
// instant, and the calendar month/quarter or local day containing an instant. DST-correct: a
// period runs from local midnight to local midnight, whatever its length in hours.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** A local calendar date; `month` 1–12. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/** Local wall-clock fields of `utcMs` in `zone`. */
function wallClock(utcMs: number, zone: string): LocalDate & { hour: number; minute: number; second: number } {
  const out = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(zone).formatToParts(utcMs)) {
    if (part.type in out) out[part.type as keyof typeof out] = Number(part.value);
  }
  return out;
}

/** The zone's offset from UTC at `utcMs`, in ms (Berlin in summer: +7 200 000). */
export function zoneOffsetMs(utcMs: number, zone: string): number {
  const w = wallClock(utcMs, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (utcMs - (((utcMs % 1000) + 1000) % 1000));
}

/** The local date of `utcMs` in `zone`. */
export function localDate(utcMs: number, zone: string): LocalDate {
  const w = wallClock(utcMs, zone);
  return { year: w.year, month: w.month, day: w.day };
}

/**
 * The UTC instant of local midnight starting the given date in `zone` (month and day may overflow,
 * as with Date.UTC). Where midnight does not exist (a DST jump at 00:00), the first instant of the day.
 */
export function localMidnight(year: number, month: number, day: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // Two passes: the offset at the first guess can differ from the offset at the answer.
  const first = wall - zoneOffsetMs(wall, zone);
  const second = wall - zoneOffsetMs(first, zone);
  const target = new Date(wall);
  const isTarget = (utc: number): boolean => {
    const local = localDate(utc, zone);
    return local.day === target.getUTCDate() && local.month === target.getUTCMonth() + 1;
  };
  // In a DST gap at midnight only the pre-transition offset lands on the date: the transition itself.
  return isTarget(second) || !isTarget(first) ? second : first;
}

/** [start, end) of the calendar month or quarter containing `utcMs` in `zone`. */
export function calendarPeriod(utcMs: number, period: 'month' | 'quarter', zone: string): { startMs: number; endMs: number } {
  const d = localDate(utcMs, zone);
  const firstMonth = period === 'month' ? d.month : d.month - ((d.month - 1) % 3);
  const months = period === 'month' ? 1 : 3;
  return { startMs: localMidnight(d.year, firstMonth, 1, zone), endMs: localMidnight(d.year, firstMonth + months, 1, zone) };
}

/** [start, end) of the local day containing `utcMs` in `zone`. */
export function localDay(utcMs: number, zone: string): { startMs: number; endMs: number; date: LocalDate } {
  const d = localDate(utcMs, zone);
  return { startMs: localMidnight(d.year, d.month, d.day, zone), endMs: localMidnight(d.year, d.month, d.day + 1, zone), date: d };
}

/** `YYYY-MM-DD`. */
export function formatDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}
