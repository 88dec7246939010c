// Timer-trigger schedules as Azure Functions reads them: a six-field NCRONTAB expression
// `{second} {minute} {hour} {day} {month} {day-of-week}`, or a TimeSpan such as "00:05:00".
//
// Semantics follow NCrontab (the library behind the Azure timer extension):
// - fields accept `*`, `n`, `a-b`, `*/n`, `a-b/n`, `a/n` (= a-max/n) and comma lists of these;
// - month names and day names match case-insensitively; we take any prefix of at least three
//   letters of the English name ("Jan", "Sept", "Thurs", "Monday"). NCrontab also takes shorter
//   prefixes, first match wins ("J" = January), which we reject as too easy to misread;
// - day-of-week is 0-6 with 0 = Sunday. NCrontab rejects 7, and so do we;
// - day-of-month and day-of-week must BOTH match (NCrontab checks the day-of-week after finding
//   a matching day-of-month), unlike Vixie cron, which fires when either matches;
// - NCrontab silently swaps a reversed range ("17-9" = "9-17"); we reject it instead, since a
//   wrap-around was almost certainly meant. A step of 0 is rejected too (NCrontab reads it as 1).
// - Five-field cron is rejected: Azure needs six fields here (newer extension versions accept five,
//   but a schedule that must also run on older hosts should not rely on that).
// Times are UTC unless an IANA time zone is given; see `parseSchedule`. Across DST changes we do
// what the Azure extension does: a wall time in the spring-forward gap moves forward by the gap;
// in the repeated hour, interval schedules fire in both passes, point-in-time ones only in the first.
import { AppError } from '../errors';

/** A schedule expression is malformed, or (from `next`) can never fire. */
export class ScheduleError extends AppError {
  override name = 'ScheduleError';
  readonly kind = 'invalid-argument';
}

export interface Schedule {
  /** The expression as given. */
  readonly expression: string;
  readonly kind: 'ncrontab' | 'timespan';
  /** IANA name of the zone NCRONTAB fields are read in; "UTC" unless one was given. */
  readonly timeZone: string;
  /**
   * First occurrence strictly after `after`. NCRONTAB occurrences are whole seconds (milliseconds
   * zero); a TimeSpan gives exactly `after + span`, as Azure's ConstantSchedule does.
   * Throws ScheduleError when an NCRONTAB schedule never fires (e.g. "0 0 0 30 Feb *").
   */
  next(after: Date): Date;
  /**
   * Like the Azure schedule monitor: true when the occurrence that followed `lastOccurrence`
   * is earlier than `now`, i.e. a run was missed (call it at start-up, not from the tick itself).
   */
  isPastDue(lastOccurrence: Date, now: Date): boolean;
}

/**
 * Parses an NCRONTAB expression (six fields) or a TimeSpan (`hh:mm:ss`, `hh:mm`, `d.hh:mm:ss`,
 * `d:hh:mm:ss`, and `dd:hh:mm` when the first number is 24 or more, as the Azure docs describe).
 * `timeZone` is an IANA name (e.g. the value of WEBSITE_TIME_ZONE on Linux); the NCRONTAB fields
 * are then wall-clock times there. Windows time zone IDs are not supported.
 */
export function parseSchedule(expression: string, options?: { timeZone?: string }): Schedule {
  const zone = resolveZone(options?.timeZone);
  const text = expression.trim();
  if (text.length === 0) {
    throw new ScheduleError('schedule expression is empty: use six NCRONTAB fields or a TimeSpan such as "00:05:00"');
  }
  const tokens = text.split(/\s+/);
  if (tokens.length === 1) {
    if (text.includes(':')) return timeSpanSchedule(expression, parseTimeSpan(text), zone.name);
    if (/^\d+$/.test(text)) {
      // .NET would read a bare number as days; too easy to mistake, so ask for the explicit form.
      throw new ScheduleError(
        `schedule expression "${text}" is a bare number; write a TimeSpan such as "${text}.00:00:00" (days) or "00:${text.padStart(2, '0')}:00" (minutes)`,
      );
    }
    throw new ScheduleError(
      `schedule expression "${text}" is neither six NCRONTAB fields ({second} {minute} {hour} {day} {month} {day-of-week}) nor a TimeSpan such as "00:05:00"`,
    );
  }
  if (tokens.length !== 6) {
    const hint =
      tokens.length === 5
        ? ' (for a five-field cron expression, put a seconds field first, e.g. "0 ' + text + '")'
        : '';
    throw new ScheduleError(
      `schedule expression "${text}" has ${tokens.length} fields; Azure Functions timer schedules need six: {second} {minute} {hour} {day} {month} {day-of-week}${hint}`,
    );
  }
  const [second, minute, hour, day, month, weekday] = FIELD_SPECS;
  const field = (spec: FieldSpec, i: number): Field => parseField(spec, tokens[i] ?? '');
  const fields: CronFields = [
    field(second, 0),
    field(minute, 1),
    field(hour, 2),
    field(day, 3),
    field(month, 4),
    field(weekday, 5),
  ];
  return new CronSchedule(expression, fields, zone);
}

// ---------------------------------------------------------------------------------------------
// NCRONTAB fields

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  readonly note?: string;
}

const FIELD_SPECS: readonly [FieldSpec, FieldSpec, FieldSpec, FieldSpec, FieldSpec, FieldSpec] = [
  { label: 'second', min: 0, max: 59 },
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day-of-month', min: 1, max: 31 },
  {
    label: 'month',
    min: 1,
    max: 12,
    names: [
      'january',
      'february',
      'march',
      'april',
      'may',
      'june',
      'july',
      'august',
      'september',
      'october',
      'november',
      'december',
    ],
  },
  {
    label: 'day-of-week',
    min: 0,
    max: 6,
    names: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'],
    note: ' (0 = Sunday; 7 is not accepted)',
  },
];

/** The values one field allows: sorted, plus a lookup table indexed by value. */
interface Field {
  readonly values: readonly number[];
  readonly has: readonly boolean[];
}

type CronFields = readonly [Field, Field, Field, Field, Field, Field];

function parseField(spec: FieldSpec, token: string): Field {
  const fail = (what: string): never => {
    throw new ScheduleError(`${spec.label} field: ${what}`);
  };
  if (/[?#]/.test(token) || (!spec.names && /[LW]/i.test(token))) {
    fail(`${JSON.stringify(token)} uses ?, L, W or #, which NCRONTAB does not support`);
  }
  const has: boolean[] = new Array<boolean>(spec.max + 1).fill(false);
  for (const element of token.split(',')) {
    if (element.length === 0) fail(`empty list element in ${JSON.stringify(token)}`);
    const parts = element.split('/');
    if (parts.length > 2) fail(`${JSON.stringify(element)} has more than one "/"`);
    const [base = '', stepText] = parts;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        fail(`${JSON.stringify(element)}: step must be a positive integer`);
      }
      step = Number(stepText);
    }
    let first: number;
    let last: number;
    if (base === '*') {
      first = spec.min;
      last = spec.max;
    } else {
      const ends = base.split('-');
      if (ends.length > 2) fail(`${JSON.stringify(element)} is not a value or a range a-b`);
      first = parseValue(spec, ends[0] ?? '', fail);
      if (ends.length === 2) {
        last = parseValue(spec, ends[1] ?? '', fail);
        if (first > last) fail(`${JSON.stringify(element)}: range start is greater than its end`);
      } else {
        // "a/n" runs from a to the field's maximum; a bare "a" is that value alone.
        last = stepText === undefined ? first : spec.max;
      }
    }
    for (let v = first; v <= last; v += step) has[v] = true;
  }
  const values: number[] = [];
  has.forEach((on, v) => {
    if (on) values.push(v);
  });
  return { values, has };
}

function parseValue(spec: FieldSpec, text: string, fail: (what: string) => never): number {
  let value: number | undefined;
  if (/^\d+$/.test(text)) {
    value = Number(text);
  } else if (spec.names && /^[a-z]{3,}$/i.test(text)) {
    const lower = text.toLowerCase();
    const index = spec.names.findIndex((name) => name.startsWith(lower));
    if (index >= 0) value = index + spec.min;
  }
  if (value === undefined) {
    const kinds = spec.names
      ? `a number or a ${spec.label === 'month' ? 'month name (Jan..Dec)' : 'day name (Sun..Sat)'}`
      : 'a number';
    return fail(text.length === 0 ? 'missing value' : `${JSON.stringify(text)} is not ${kinds}`);
  }
  if (value < spec.min || value > spec.max) {
    fail(`${JSON.stringify(text)} is out of range ${spec.min}-${spec.max}${spec.note ?? ''}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Time zones. A zone maps an instant (ms since epoch) to its UTC offset; "wall" times are
// wall-clock times encoded as if they were UTC instants, so plain arithmetic works on them.

interface Zone {
  readonly name: string;
  /** Offset in ms to add to an instant to get the wall-clock time there. */
  offsetAt(instant: number): number;
}

const UTC_ZONE: Zone = { name: 'UTC', offsetAt: () => 0 };
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Etc/Zulu', 'Universal', 'Zulu']);

function resolveZone(timeZone: string | undefined): Zone {
  if (timeZone === undefined || timeZone.trim() === '') return UTC_ZONE;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timeZone.trim(),
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new ScheduleError(
      `time zone "${timeZone}" is not an IANA time zone name known to this runtime (e.g. "Europe/London"); Windows IDs such as "GMT Standard Time" are not supported`,
    );
  }
  const name = format.resolvedOptions().timeZone;
  if (UTC_NAMES.has(name)) return UTC_ZONE;
  return {
    name,
    offsetAt(instant: number): number {
      const at = Math.floor(instant / 1000) * 1000;
      const part: Record<string, number> = {};
      for (const p of format.formatToParts(at)) part[p.type] = Number(p.value);
      const wall = wallMs(
        part.year ?? 1970,
        part.month ?? 1,
        part.day ?? 1,
        part.hour ?? 0,
        part.minute ?? 0,
        part.second ?? 0,
      );
      return wall - at;
    },
  };
}

/** The instants whose wall-clock time in `zone` is `wall`: one, two (clocks turned back), or,
 *  inside a gap (clocks turned forward), the instant the pre-transition offset gives, which lands
 *  after the gap; this is what .NET, and so Azure, does with an invalid local time. */
function instantsOf(zone: Zone, wall: number): number[] {
  const before = zone.offsetAt(wall - DAY_MS);
  const after = zone.offsetAt(wall + DAY_MS);
  const found = [before, after]
    .filter((offset, i, all) => all.indexOf(offset) === i)
    .map((offset) => wall - offset)
    .filter((instant) => zone.offsetAt(instant) + instant === wall)
    .sort((a, b) => a - b);
  return found.length > 0 ? found : [wall - before];
}

// ---------------------------------------------------------------------------------------------
// NCRONTAB schedule

const SECOND_MS = 1000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Longest UTC offset change of any zone (Antarctica/Troll moves 2 h); bounds DST look-arounds. */
const MAX_SHIFT_MS = 3 * HOUR_MS;
/** The Gregorian calendar repeats every 400 years: no match within that span means never. */
const SEARCH_YEARS = 400;

class CronSchedule implements Schedule {
  readonly kind = 'ncrontab';
  readonly timeZone: string;
  /** Azure's rule: a schedule that repeats within the day ("*", ranges, or steps that Azure's
   *  normalised form writes as ranges in second/minute/hour) fires in both passes of a repeated
   *  hour when clocks turn back; a point-in-time one ("0 30 1 * * *") fires only in the first. */
  private readonly interval: boolean;

  constructor(
    readonly expression: string,
    private readonly fields: CronFields,
    private readonly zone: Zone,
  ) {
    this.timeZone = zone.name;
    this.interval = fields.slice(0, 3).some((f) => f.values.some((v, i) => i > 0 && f.values[i - 1] === v - 1));
  }

  next(after: Date): Date {
    const afterMs = after.getTime();
    if (Number.isNaN(afterMs)) throw new ScheduleError('next(after): after is an invalid Date');
    const base = Math.floor(afterMs / SECOND_MS) * SECOND_MS;
    const zone = this.zone;
    const offset = zone.offsetAt(base);
    // Walk wall-clock candidates from the wall time of `after`; if clocks turn back within
    // MAX_SHIFT_MS, start earlier so that the repeated wall times are seen again.
    let from = base + offset - Math.max(0, offset - zone.offsetAt(base + MAX_SHIFT_MS));
    let best: number | undefined;
    let bestWall = 0;
    let slack = 0;
    for (;;) {
      const wall = this.nextWall(from);
      // Later wall times give later instants, unless the offset grew meanwhile (by `slack`).
      if (best !== undefined && wall - bestWall > slack) break;
      const instants = instantsOf(zone, wall);
      for (const instant of this.interval ? instants : instants.slice(0, 1)) {
        if (instant > afterMs && (best === undefined || instant < best)) {
          best = instant;
          bestWall = wall;
          slack = Math.max(0, zone.offsetAt(Math.max(afterMs, instant - MAX_SHIFT_MS)) - zone.offsetAt(instant));
        }
      }
      from = wall;
    }
    return new Date(best);
  }

  isPastDue(lastOccurrence: Date, now: Date): boolean {
    return this.next(lastOccurrence).getTime() < now.getTime();
  }

  /** First wall time strictly after `fromWall` (whole seconds) that all six fields match. */
  private nextWall(fromWall: number): number {
    const [seconds, minutes, hours, days, months, weekdays] = this.fields;
    const start = new Date(Math.floor(fromWall / SECOND_MS) * SECOND_MS + SECOND_MS);
    const y0 = start.getUTCFullYear();
    const mo0 = start.getUTCMonth() + 1;
    const d0 = start.getUTCDate();
    for (let y = y0; y <= y0 + SEARCH_YEARS; y++) {
      for (const mo of months.values) {
        if (y === y0 && mo < mo0) continue;
        const sameMonth = y === y0 && mo === mo0;
        const lastDay = daysInMonth(y, mo);
        for (const d of days.values) {
          if (d > lastDay) break;
          if (sameMonth && d < d0) continue;
          // NCrontab: day-of-month AND day-of-week must both match.
          if (!weekdays.has[dayOfWeek(y, mo, d)]) continue;
          const time: [number, number, number] | undefined =
            sameMonth && d === d0
              ? timeAtOrAfter(
                  hours,
                  minutes,
                  seconds,
                  start.getUTCHours(),
                  start.getUTCMinutes(),
                  start.getUTCSeconds(),
                )
              : [hours.values[0] ?? 0, minutes.values[0] ?? 0, seconds.values[0] ?? 0];
          if (time) return wallMs(y, mo, d, time[0], time[1], time[2]);
        }
      }
    }
    throw new ScheduleError(
      `schedule "${this.expression}" never fires: no date matches its day-of-month, month and day-of-week fields together`,
    );
  }
}

/** Earliest [h, m, s] on one day at or after h0:m0:s0, or undefined when none is left that day. */
function timeAtOrAfter(
  hours: Field,
  minutes: Field,
  seconds: Field,
  h0: number,
  m0: number,
  s0: number,
): [number, number, number] | undefined {
  const firstMinute = minutes.values[0] ?? 0;
  const firstSecond = seconds.values[0] ?? 0;
  for (const h of hours.values) {
    if (h < h0) continue;
    if (h > h0) return [h, firstMinute, firstSecond];
    for (const m of minutes.values) {
      if (m < m0) continue;
      if (m > m0) return [h, m, firstSecond];
      const s = seconds.values.find((v) => v >= s0);
      if (s !== undefined) return [h, m, s];
    }
  }
  return undefined;
}

function wallMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // unlike Date.UTC, keeps years 0-99 as they are
  date.setUTCHours(h, mi, s, 0);
  return date.getTime();
}

function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

/** 0 = Sunday (Sakamoto's method, proleptic Gregorian). */
function dayOfWeek(y: number, mo: number, d: number): number {
  const t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4] as const;
  const yy = mo < 3 ? y - 1 : y;
  const r = (yy + Math.floor(yy / 4) - Math.floor(yy / 100) + Math.floor(yy / 400) + (t[mo - 1] ?? 0) + d) % 7;
  return (r + 7) % 7;
}

// ---------------------------------------------------------------------------------------------
// TimeSpan

/** Parses the TimeSpan forms Azure accepts (via .NET TimeSpan.Parse) into milliseconds. */
function parseTimeSpan(text: string): number {
  const fail = (why: string): never => {
    throw new ScheduleError(`TimeSpan "${text}" ${why}`);
  };
  const match = /^(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d{1,7}))?)?(?::(\d+)(?:\.(\d{1,7}))?)?$/.exec(text);
  if (!match) return fail('is not of the form hh:mm:ss, d.hh:mm:ss or d:hh:mm:ss');
  const [, dotDays, a, b, c, cFrac, e, eFrac] = match;
  let days: number;
  let hours: number;
  let minutes: number;
  let seconds = 0;
  let fraction: string | undefined;
  if (e !== undefined) {
    // d:hh:mm:ss
    if (dotDays !== undefined || cFrac !== undefined) fail('mixes "d." with "d:hh:mm:ss"');
    days = Number(a);
    hours = Number(b);
    minutes = Number(c);
    seconds = Number(e);
    fraction = eFrac;
  } else if (c !== undefined && dotDays === undefined && Number(a) >= 24) {
    // The Azure docs: when the first number is 24 or more, "dd:hh:mm".
    if (cFrac !== undefined) fail('has a fraction, but "dd:hh:mm" has no seconds');
    days = Number(a);
    hours = Number(b);
    minutes = Number(c);
  } else {
    days = dotDays === undefined ? 0 : Number(dotDays);
    hours = Number(a);
    minutes = Number(b);
    seconds = c === undefined ? 0 : Number(c);
    fraction = cFrac;
  }
  if (hours > 23) fail(`has hours ${hours}; use 0-23 (write days as "d.hh:mm:ss")`);
  if (minutes > 59) fail(`has minutes ${minutes}; use 0-59`);
  if (seconds > 59) fail(`has seconds ${seconds}; use 0-59`);
  const ms = fraction === undefined ? 0 : Math.round(Number(`0.${fraction}`) * 1000);
  const total = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000 + ms;
  if (total <= 0) fail('is zero; a timer needs a positive interval');
  return total;
}

function timeSpanSchedule(expression: string, spanMs: number, timeZone: string): Schedule {
  const next = (after: Date): Date => {
    if (Number.isNaN(after.getTime())) throw new ScheduleError('next(after): after is an invalid Date');
    return new Date(after.getTime() + spanMs);
  };
  return {
    expression,
    kind: 'timespan',
    timeZone,
    next,
    isPastDue: (lastOccurrence, now) => next(lastOccurrence).getTime() < now.getTime(),
  };
}
