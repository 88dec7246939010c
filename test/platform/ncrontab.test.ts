import { describe, expect, it } from 'vitest';

import { messageOf } from '../../src/errors';
import { parseSchedule, ScheduleError } from '../../src/platform/ncrontab';

const at = (iso: string): Date => new Date(iso);
const nextIso = (expression: string, after: string, timeZone?: string): string =>
  parseSchedule(expression, { timeZone }).next(at(after)).toISOString();
/** The first `count` occurrences after `after`, as ISO strings. */
const series = (expression: string, after: string, count: number, timeZone?: string): string[] => {
  const schedule = parseSchedule(expression, { timeZone });
  const out: string[] = [];
  let t = at(after);
  for (let i = 0; i < count; i++) {
    t = schedule.next(t);
    out.push(t.toISOString());
  }
  return out;
};
const parseError = (expression: string): string => {
  try {
    parseSchedule(expression);
  } catch (e) {
    expect(e).toBeInstanceOf(ScheduleError);
    return messageOf(e);
  }
  throw new Error(`expected "${expression}" to be rejected`);
};

describe('NCRONTAB: Azure documentation examples (UTC)', () => {
  it('0 */5 * * * * fires every five minutes', () => {
    expect(series('0 */5 * * * *', '2024-05-15T10:02:30Z', 3)).toEqual([
      '2024-05-15T10:05:00.000Z',
      '2024-05-15T10:10:00.000Z',
      '2024-05-15T10:15:00.000Z',
    ]);
    expect(nextIso('0 */5 * * * *', '2024-05-15T10:55:00.500Z')).toBe('2024-05-15T11:00:00.000Z');
  });

  it('0 0 * * * * fires at the top of every hour', () => {
    expect(nextIso('0 0 * * * *', '2024-05-15T10:00:00Z')).toBe('2024-05-15T11:00:00.000Z');
    expect(nextIso('0 0 * * * *', '2024-05-15T23:30:00Z')).toBe('2024-05-16T00:00:00.000Z');
  });

  it('0 0 */2 * * * fires every two hours', () => {
    expect(series('0 0 */2 * * *', '2024-05-15T09:59:59Z', 2)).toEqual([
      '2024-05-15T10:00:00.000Z',
      '2024-05-15T12:00:00.000Z',
    ]);
    expect(nextIso('0 0 */2 * * *', '2024-05-15T22:00:00Z')).toBe('2024-05-16T00:00:00.000Z');
  });

  it('0 0 9-17 * * * fires hourly from 9 to 17', () => {
    expect(nextIso('0 0 9-17 * * *', '2024-05-15T08:59:59Z')).toBe('2024-05-15T09:00:00.000Z');
    expect(nextIso('0 0 9-17 * * *', '2024-05-15T16:00:00Z')).toBe('2024-05-15T17:00:00.000Z');
    expect(nextIso('0 0 9-17 * * *', '2024-05-15T17:00:00Z')).toBe('2024-05-16T09:00:00.000Z');
  });

  it('0 30 9 * * * fires daily at 9:30', () => {
    expect(nextIso('0 30 9 * * *', '2024-05-15T09:29:59Z')).toBe('2024-05-15T09:30:00.000Z');
    expect(nextIso('0 30 9 * * *', '2024-05-15T09:30:00Z')).toBe('2024-05-16T09:30:00.000Z');
  });

  it('0 30 9 * * 1-5 fires at 9:30 on weekdays', () => {
    // 2024-05-17 is a Friday.
    expect(series('0 30 9 * * 1-5', '2024-05-17T09:30:00Z', 2)).toEqual([
      '2024-05-20T09:30:00.000Z',
      '2024-05-21T09:30:00.000Z',
    ]);
  });

  it('0 30 9 * Jan Mon fires at 9:30 on Mondays in January', () => {
    expect(nextIso('0 30 9 * Jan Mon', '2024-01-01T00:00:00Z')).toBe('2024-01-01T09:30:00.000Z');
    expect(nextIso('0 30 9 * Jan Mon', '2024-01-01T09:30:00Z')).toBe('2024-01-08T09:30:00.000Z');
    // Jan 29 is the last Monday of January 2024; the next is Jan 6, 2025.
    expect(nextIso('0 30 9 * Jan Mon', '2024-01-29T09:30:00Z')).toBe('2025-01-06T09:30:00.000Z');
  });

  it('*/30 * * * * * fires every 30 seconds', () => {
    expect(series('*/30 * * * * *', '2024-05-15T10:00:00Z', 3)).toEqual([
      '2024-05-15T10:00:30.000Z',
      '2024-05-15T10:01:00.000Z',
      '2024-05-15T10:01:30.000Z',
    ]);
  });
});

describe('NCRONTAB: next()', () => {
  it('is strictly after `after` and zeroes milliseconds', () => {
    expect(nextIso('* * * * * *', '2024-05-15T10:00:00.000Z')).toBe('2024-05-15T10:00:01.000Z');
    expect(nextIso('* * * * * *', '2024-05-15T10:00:00.999Z')).toBe('2024-05-15T10:00:01.000Z');
    expect(nextIso('*/30 * * * * *', '2024-05-15T10:00:29.999Z')).toBe('2024-05-15T10:00:30.000Z');
  });

  it('rolls over minutes, hours, days, months and years', () => {
    expect(nextIso('0 0 0 1 * *', '2024-12-15T12:00:00Z')).toBe('2025-01-01T00:00:00.000Z');
    expect(nextIso('59 59 23 31 12 *', '2024-12-31T23:59:59Z')).toBe('2025-12-31T23:59:59.000Z');
    expect(nextIso('* * * * * *', '2024-12-31T23:59:59Z')).toBe('2025-01-01T00:00:00.000Z');
    expect(nextIso('0 0 0 * * *', '2024-02-28T12:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(nextIso('0 0 0 * * *', '2023-02-28T12:00:00Z')).toBe('2023-03-01T00:00:00.000Z');
  });

  it('skips months without the day (31st)', () => {
    expect(series('0 59 23 31 * *', '2024-01-31T23:59:00Z', 3)).toEqual([
      '2024-03-31T23:59:00.000Z',
      '2024-05-31T23:59:00.000Z',
      '2024-07-31T23:59:00.000Z',
    ]);
  });

  it('finds leap days, including across the non-leap year 2100', () => {
    expect(nextIso('0 0 0 29 Feb *', '2024-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    expect(nextIso('0 0 0 29 Feb *', '2023-06-01T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(nextIso('0 0 0 29 Feb *', '2096-03-01T00:00:00Z')).toBe('2104-02-29T00:00:00.000Z');
    // Feb 29 on a Monday: 2016, then 2044.
    expect(nextIso('0 0 0 29 2 Mon', '2016-03-01T00:00:00Z')).toBe('2044-02-29T00:00:00.000Z');
  });

  it('requires both day-of-month and day-of-week when both are restricted (NCrontab, not Vixie cron)', () => {
    // Friday the 13th: September 13, 2024 (Vixie cron would fire on Friday, Jan 5).
    expect(nextIso('0 0 0 13 * Fri', '2024-01-01T00:00:00Z')).toBe('2024-09-13T00:00:00.000Z');
  });

  it('throws a ScheduleError, quickly, for schedules that never fire', () => {
    for (const expression of ['0 0 0 30 Feb *', '0 0 0 31 Apr,Jun,Sep,Nov *', '0 0 0 30,31 2 *']) {
      const schedule = parseSchedule(expression);
      const started = Date.now();
      expect(() => schedule.next(at('2024-01-01T00:00:00Z'))).toThrow(ScheduleError);
      expect(() => schedule.next(at('2024-01-01T00:00:00Z'))).toThrow(/never fires/);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it('agrees with a second-by-second scan', () => {
    // Allowed values per field (second, minute, hour, day, month, weekday); undefined = any.
    const cases: [string, (ReadonlySet<number> | undefined)[]][] = [
      ['*/7 */13 * * * *', [new Set([0, 7, 14, 21, 28, 35, 42, 49, 56]), new Set([0, 13, 26, 39, 52])]],
      ['15,45 0-10/5 1-3 * * *', [new Set([15, 45]), new Set([0, 5, 10]), new Set([1, 2, 3])]],
      [
        '0 0 */5 * * Sat,Sun',
        [new Set([0]), new Set([0]), new Set([0, 5, 10, 15, 20]), undefined, undefined, new Set([0, 6])],
      ],
      ['30 1/20 22 * * *', [new Set([30]), new Set([1, 21, 41]), new Set([22])]],
      [
        '0 0 */6 27-29,1-3 * Wed-Fri',
        [
          new Set([0]),
          new Set([0]),
          new Set([0, 6, 12, 18]),
          new Set([27, 28, 29, 1, 2, 3]),
          undefined,
          new Set([3, 4, 5]),
        ],
      ],
    ];
    const start = Date.parse('2024-02-27T20:00:00Z');
    const limit = start + 4 * 86_400_000;
    for (const [expression, allowed] of cases) {
      const matches = (ms: number): boolean => {
        const t = new Date(ms);
        const values = [
          t.getUTCSeconds(),
          t.getUTCMinutes(),
          t.getUTCHours(),
          t.getUTCDate(),
          t.getUTCMonth() + 1,
          t.getUTCDay(),
        ];
        return values.every((v, i) => allowed[i]?.has(v) ?? true);
      };
      const schedule = parseSchedule(expression);
      let t = start;
      while (t < limit) {
        const next = schedule.next(new Date(t)).getTime();
        let scan = t + 1000;
        while (scan <= limit && !matches(scan)) scan += 1000;
        if (scan <= limit)
          expect(new Date(next).toISOString(), `${expression} after ${new Date(t).toISOString()}`).toBe(
            new Date(scan).toISOString(),
          );
        else expect(next).toBeGreaterThan(limit);
        t = next;
      }
    }
  });
});

describe('NCRONTAB: field syntax', () => {
  it('accepts lists, ranges and steps', () => {
    expect(series('0 0 8,12,18 * * *', '2024-05-15T08:00:00Z', 3)).toEqual([
      '2024-05-15T12:00:00.000Z',
      '2024-05-15T18:00:00.000Z',
      '2024-05-16T08:00:00.000Z',
    ]);
    expect(series('0 5/15 10 * * *', '2024-05-15T00:00:00Z', 5).map((s) => s.slice(11, 16))).toEqual([
      '10:05',
      '10:20',
      '10:35',
      '10:50',
      '10:05',
    ]);
    expect(series('0 10-40/10 10 * * *', '2024-05-15T00:00:00Z', 4).map((s) => s.slice(11, 16))).toEqual([
      '10:10',
      '10:20',
      '10:30',
      '10:40',
    ]);
    // Day-of-week */2 = Sun, Tue, Thu, Sat. 2024-05-12 is a Sunday.
    expect(series('0 0 0 * * */2', '2024-05-11T12:00:00Z', 4).map((s) => s.slice(0, 10))).toEqual([
      '2024-05-12',
      '2024-05-14',
      '2024-05-16',
      '2024-05-18',
    ]);
  });

  it('accepts month and day names in any case, abbreviated or in full', () => {
    expect(nextIso('0 0 12 * JAN-mar sun', '2024-03-31T12:00:00Z')).toBe('2025-01-05T12:00:00.000Z');
    expect(nextIso('0 0 0 * * Monday', '2024-05-15T00:00:00Z')).toBe('2024-05-20T00:00:00.000Z');
    expect(nextIso('0 0 0 1 September *', '2024-05-15T00:00:00Z')).toBe('2024-09-01T00:00:00.000Z');
    expect(nextIso('0 0 0 * * Thurs', '2024-05-15T00:00:00Z')).toBe('2024-05-16T00:00:00.000Z');
    expect(nextIso('0 0 0 * * 0', '2024-05-15T00:00:00Z')).toBe('2024-05-19T00:00:00.000Z');
  });

  it('tolerates extra whitespace and keeps the expression as given', () => {
    const schedule = parseSchedule('  0  */5 *\t* * *  ');
    expect(schedule.expression).toBe('  0  */5 *\t* * *  ');
    expect(schedule.kind).toBe('ncrontab');
    expect(schedule.timeZone).toBe('UTC');
    expect(schedule.next(at('2024-05-15T10:02:30Z')).toISOString()).toBe('2024-05-15T10:05:00.000Z');
  });

  it('names the field and the bad token', () => {
    expect(parseError('0 61 * * * *')).toBe('minute field: "61" is out of range 0-59');
    expect(parseError('60 * * * * *')).toBe('second field: "60" is out of range 0-59');
    expect(parseError('0 0 24 * * *')).toBe('hour field: "24" is out of range 0-23');
    expect(parseError('0 0 0 0 * *')).toBe('day-of-month field: "0" is out of range 1-31');
    expect(parseError('0 0 0 32 * *')).toBe('day-of-month field: "32" is out of range 1-31');
    expect(parseError('0 0 0 1 13 *')).toBe('month field: "13" is out of range 1-12');
    expect(parseError('0 0 0 1 0 *')).toBe('month field: "0" is out of range 1-12');
    expect(parseError('0 0 0 * * 7')).toBe(
      'day-of-week field: "7" is out of range 0-6 (0 = Sunday; 7 is not accepted)',
    );
    expect(parseError('0 0 0 1 Foo *')).toBe('month field: "Foo" is not a number or a month name (Jan..Dec)');
    expect(parseError('0 0 0 * * Funday')).toBe('day-of-week field: "Funday" is not a number or a day name (Sun..Sat)');
    expect(parseError('0 0 0 * Ja *')).toBe('month field: "Ja" is not a number or a month name (Jan..Dec)');
    expect(parseError('0 x * * * *')).toBe('minute field: "x" is not a number');
    expect(parseError('0 0 Mon * * *')).toBe('hour field: "Mon" is not a number');
  });

  it('rejects malformed lists, ranges and steps', () => {
    expect(parseError('*/0 * * * * *')).toBe('second field: "*/0": step must be a positive integer');
    expect(parseError('0 */x * * * *')).toBe('minute field: "*/x": step must be a positive integer');
    expect(parseError('0 1/2/3 * * * *')).toBe('minute field: "1/2/3" has more than one "/"');
    expect(parseError('0 0 17-9 * * *')).toBe('hour field: "17-9": range start is greater than its end');
    expect(parseError('0 0 1- * * *')).toBe('hour field: missing value');
    expect(parseError('0 0 -5 * * *')).toBe('hour field: missing value');
    expect(parseError('0 0 1-2-3 * * *')).toBe('hour field: "1-2-3" is not a value or a range a-b');
    expect(parseError('0 1,,2 * * * *')).toBe('minute field: empty list element in "1,,2"');
    expect(parseError('0 1, * * * *')).toBe('minute field: empty list element in "1,"');
    expect(parseError('0 0 0 L * *')).toMatch(/^day-of-month field: "L" uses \?, L, W or #/);
    expect(parseError('0 0 0 ? * *')).toMatch(/^day-of-month field: "\?" uses/);
    expect(parseError('0 0 0 * * 1#2')).toMatch(/^day-of-week field: "1#2" uses/);
  });

  it('asks for six fields', () => {
    expect(parseError('*/5 * * * *')).toMatch(/has 5 fields; Azure Functions timer schedules need six/);
    expect(parseError('*/5 * * * *')).toContain('"0 */5 * * * *"');
    expect(parseError('0 0 0 * * * 2024')).toMatch(/has 7 fields/);
    expect(parseError('* *')).toMatch(/has 2 fields/);
    expect(parseError('')).toMatch(/empty/);
    expect(parseError('   ')).toMatch(/empty/);
    expect(parseError('hourly')).toMatch(/is neither six NCRONTAB fields .* nor a TimeSpan/);
  });
});

describe('TimeSpan schedules', () => {
  const spanMs = (expression: string): number => {
    const after = at('2024-05-15T10:00:00.250Z');
    return parseSchedule(expression).next(after).getTime() - after.getTime();
  };

  it('next is after + span', () => {
    const schedule = parseSchedule('00:05:00');
    expect(schedule.kind).toBe('timespan');
    expect(schedule.next(at('2024-05-15T10:00:00.250Z')).toISOString()).toBe('2024-05-15T10:05:00.250Z');
  });

  it('reads the forms Azure accepts', () => {
    expect(spanMs('00:05:00')).toBe(5 * 60_000);
    expect(spanMs('01:00:00')).toBe(3_600_000);
    expect(spanMs('00:01:00')).toBe(60_000);
    expect(spanMs('00:00:30')).toBe(30_000);
    expect(spanMs('00:00:00.5')).toBe(500);
    expect(spanMs('00:05')).toBe(5 * 60_000); // hh:mm
    expect(spanMs('1.00:00:00')).toBe(86_400_000);
    expect(spanMs('2.03:04:05')).toBe(((2 * 24 + 3) * 3600 + 4 * 60 + 5) * 1000);
    expect(spanMs('25:00:00:00')).toBe(25 * 86_400_000); // d:hh:mm:ss
    // Azure docs: when the first number is 24 or more the form is dd:hh:mm.
    expect(spanMs('24:00:00')).toBe(24 * 86_400_000);
    expect(spanMs('30:01:02')).toBe(30 * 86_400_000 + 3_600_000 + 2 * 60_000);
  });

  it('rejects malformed or zero spans', () => {
    expect(parseError('00:60:00')).toMatch(/TimeSpan "00:60:00" has minutes 60/);
    expect(parseError('00:00:60')).toMatch(/has seconds 60/);
    expect(parseError('1.24:00:00')).toMatch(/has hours 24/);
    expect(parseError('00:00:00')).toMatch(/is zero/);
    expect(parseError('1:2:3:4:5')).toMatch(/is not of the form/);
    expect(parseError('-00:05:00')).toMatch(/is not of the form/);
    expect(parseError('5')).toBe(
      'schedule expression "5" is a bare number; write a TimeSpan such as "5.00:00:00" (days) or "00:05:00" (minutes)',
    );
  });
});

describe('isPastDue', () => {
  it('is true once the occurrence after the last one has gone by', () => {
    const schedule = parseSchedule('0 */5 * * * *');
    const last = at('2024-05-15T10:00:00Z');
    expect(schedule.isPastDue(last, at('2024-05-15T10:04:59Z'))).toBe(false);
    expect(schedule.isPastDue(last, at('2024-05-15T10:05:00Z'))).toBe(false);
    expect(schedule.isPastDue(last, at('2024-05-15T10:05:01Z'))).toBe(true);
  });

  it('works for TimeSpan schedules', () => {
    const schedule = parseSchedule('01:00:00');
    const last = at('2024-05-15T10:00:00Z');
    expect(schedule.isPastDue(last, at('2024-05-15T10:59:00Z'))).toBe(false);
    expect(schedule.isPastDue(last, at('2024-05-15T11:00:01Z'))).toBe(true);
  });
});

describe('time zones', () => {
  it('defaults to UTC and recognises UTC aliases', () => {
    expect(parseSchedule('0 0 9 * * *').timeZone).toBe('UTC');
    expect(parseSchedule('0 0 9 * * *', { timeZone: 'Etc/UTC' }).timeZone).toBe('UTC');
    expect(parseSchedule('0 0 9 * * *', { timeZone: '' }).timeZone).toBe('UTC');
  });

  it('rejects names Intl does not know, including Windows IDs', () => {
    expect(() => parseSchedule('0 0 9 * * *', { timeZone: 'Eastern Standard Time' })).toThrow(ScheduleError);
    expect(() => parseSchedule('0 0 9 * * *', { timeZone: 'Mars/Olympus' })).toThrow(/not an IANA time zone name/);
  });

  it('reads the fields as wall-clock time in the zone', () => {
    expect(nextIso('0 0 9 * * *', '2024-07-01T00:00:00Z', 'Europe/London')).toBe('2024-07-01T08:00:00.000Z');
    expect(nextIso('0 0 9 * * *', '2024-01-15T00:00:00Z', 'Europe/London')).toBe('2024-01-15T09:00:00.000Z');
    expect(nextIso('0 0 9 * * *', '2024-07-01T00:00:00Z', 'Asia/Kolkata')).toBe('2024-07-01T03:30:00.000Z');
    // Day boundaries are local too: Monday 00:30 in Tokyo is Sunday 15:30 UTC.
    expect(nextIso('0 30 0 * * Mon', '2024-05-15T00:00:00Z', 'Asia/Tokyo')).toBe('2024-05-19T15:30:00.000Z');
  });

  it('moves a time in the spring-forward gap to after the gap, as .NET does', () => {
    // New York, 2024-03-10: 02:00 EST becomes 03:00 EDT; 02:30 does not exist.
    expect(series('0 30 2 * * *', '2024-03-10T05:00:00Z', 2, 'America/New_York')).toEqual([
      '2024-03-10T07:30:00.000Z', // 03:30 EDT
      '2024-03-11T06:30:00.000Z', // 02:30 EDT
    ]);
    expect(series('0 30 * * * *', '2024-03-10T06:00:00Z', 3, 'America/New_York')).toEqual([
      '2024-03-10T06:30:00.000Z', // 01:30 EST
      '2024-03-10T07:30:00.000Z', // 03:30 EDT
      '2024-03-10T08:30:00.000Z', // 04:30 EDT
    ]);
  });

  it('runs a point-in-time schedule once in the repeated hour when clocks go back', () => {
    // New York, 2024-11-03: 02:00 EDT becomes 01:00 EST (06:00Z); 01:xx happens twice.
    expect(series('0 30 1 * * *', '2024-11-03T04:00:00Z', 2, 'America/New_York')).toEqual([
      '2024-11-03T05:30:00.000Z', // 01:30 EDT
      '2024-11-04T06:30:00.000Z', // 01:30 EST the next day
    ]);
    // Starting inside the second pass: the 01:30 of today counts as done.
    expect(nextIso('0 30 1 * * *', '2024-11-03T06:10:00Z', 'America/New_York')).toBe('2024-11-04T06:30:00.000Z');
  });

  it('runs an interval schedule through both passes of the repeated hour', () => {
    expect(series('0 0 * * * *', '2024-11-03T04:30:00Z', 3, 'America/New_York')).toEqual([
      '2024-11-03T05:00:00.000Z', // 01:00 EDT
      '2024-11-03T06:00:00.000Z', // 01:00 EST
      '2024-11-03T07:00:00.000Z', // 02:00 EST
    ]);
    expect(series('0 0,45 * * * *', '2024-11-03T05:10:00Z', 4, 'America/New_York')).toEqual([
      '2024-11-03T05:45:00.000Z', // 01:45 EDT
      '2024-11-03T06:00:00.000Z', // 01:00 EST
      '2024-11-03T06:45:00.000Z', // 01:45 EST
      '2024-11-03T07:00:00.000Z', // 02:00 EST
    ]);
    expect(nextIso('0 */30 * * * *', '2024-11-03T06:10:00Z', 'America/New_York')).toBe('2024-11-03T06:30:00.000Z');
  });

  it('gives a strictly increasing, gap-free series every minute across both transitions', () => {
    for (const [start, hours] of [
      ['2024-03-10T04:00:00Z', 4],
      ['2024-11-03T03:00:00Z', 5],
    ] as const) {
      const times = series('0 * * * * *', start, hours * 60, 'America/New_York').map((s) => Date.parse(s));
      times.forEach((t, i) => expect(t - (i === 0 ? Date.parse(start) : (times[i - 1] ?? 0))).toBe(60_000));
    }
  });
});
