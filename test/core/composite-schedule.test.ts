/**
 * The composite charging schedule (OCPP 1.6 §3.13, 2.0.1 K08) as a pure function over the core's
 * limit profiles: table-driven cases for stacking, purposes, validity, period and duration
 * boundaries, units and phases, relative and recurring schedules (across midnight and
 * daylight-saving changes: everything is UTC). The 1.6 binding's conversion into these profiles
 * is tested in test/ocpp/charging-profiles.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  compositeLimitAt, compositeSchedule, evseTarget, limitNow, STATION, type CompositeRequest, type Electrical, type InstalledLimit, type LimitProfile, type LimitTarget,
} from '../../src/core/smart-charging/index.js';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const H = 3_600;
/** An hour in ms (startSchedule and validity are epoch ms; periods are seconds). */
const HMS = H * 1000;
const E3: Electrical = { nominalVoltageV: 230, phases: 3, maxCurrentA: 32, phaseSwitching: false };
const E1: Electrical = { nominalVoltageV: 230, phases: 1, maxCurrentA: 32, phaseSwitching: false };
const EVSE1 = evseTarget(1);

let nextId = 1;
function profile(
  p: Partial<Omit<LimitProfile, 'schedules'>> & { periods: [number, number, number?][]; unit?: 'A' | 'W'; duration?: number; start?: number },
  target: LimitTarget = EVSE1, installedAt = T0,
): InstalledLimit {
  const { periods, unit, duration, start, ...rest } = p;
  return {
    target, installedAt,
    profile: {
      id: nextId++, stackLevel: 0, purpose: 'TransactionDefault', kind: 'Absolute',
      ...rest,
      schedules: [{
        unit: unit ?? 'A',
        ...(duration !== undefined ? { durationS: duration } : {}),
        ...(start !== undefined ? { startSchedule: iso(start) } : {}),
        periods: periods.map(([startPeriod, limit, numberPhases]) => ({ startPeriod, limit, ...(numberPhases !== undefined ? { numberPhases } : {}) })),
      }],
    },
  };
}

type Case = {
  name: string;
  profiles: InstalledLimit[];
  expected: [number, number][] | [number, number, number][];
  req?: Partial<CompositeRequest>;
};

const cases: Case[] = [
  { name: 'no profile: the hardware limit', profiles: [], expected: [[0, 32]] },
  {
    name: 'absolute schedule: periods, then the end of its duration',
    profiles: [profile({ start: T0, duration: 2 * H, periods: [[0, 16], [H, 10]] })],
    expected: [[0, 16], [H, 10], [2 * H, 32]],
  },
  {
    name: 'absolute schedule without duration: the last period lasts',
    profiles: [profile({ start: T0 - HMS, periods: [[0, 16], [2 * H, 10]] })],
    expected: [[0, 16], [H, 10]],
  },
  {
    name: 'validFrom and validTo cut a schedule (validTo exclusive)',
    profiles: [profile({ start: T0, periods: [[0, 16], [H, 10]], validFrom: iso(T0 + 1_800_000), validTo: iso(T0 + 5_400_000) })],
    expected: [[0, 32], [1_800, 16], [H, 10], [5_400, 32]],
  },
  {
    name: 'a profile that starts later is not in force before its startSchedule',
    profiles: [profile({ start: T0 + HMS, periods: [[0, 8]] })],
    expected: [[0, 32], [H, 8]],
  },
  {
    name: 'stack levels: the higher wins while in force; the lower shows through after its duration',
    profiles: [
      profile({ stackLevel: 0, start: T0 - HMS, periods: [[0, 16]] }),
      profile({ stackLevel: 1, start: T0 + 1_800_000, duration: H, periods: [[0, 8]] }),
    ],
    expected: [[0, 16], [1_800, 8], [5_400, 16]],
  },
  {
    name: 'stack levels: a higher level with a higher limit still wins (it is not a minimum)',
    profiles: [profile({ stackLevel: 0, start: T0, periods: [[0, 10]] }), profile({ stackLevel: 3, start: T0, periods: [[0, 20]] })],
    expected: [[0, 20]],
  },
  {
    name: 'same stack level: the EVSE\'s own TransactionDefault beats the station\'s',
    profiles: [profile({ start: T0, periods: [[0, 10]] }, STATION), profile({ start: T0, periods: [[0, 14]] }, EVSE1)],
    expected: [[0, 14]],
  },
  {
    name: 'TransactionDefault on the station applies to every EVSE',
    profiles: [profile({ start: T0, periods: [[0, 12]] }, STATION)],
    expected: [[0, 12]],
    req: { target: evseTarget(2) },
  },
  {
    name: 'a Transaction profile overrides TransactionDefault during its session, even upwards',
    profiles: [
      profile({ start: T0, periods: [[0, 10]] }),
      profile({ purpose: 'Transaction', stackLevel: 0, start: T0, duration: H, periods: [[0, 20]] }),
    ],
    expected: [[0, 20], [H, 10]],
    req: { transaction: { sessionId: 'session-7', startedAt: T0 - 60_000 } },
  },
  {
    name: 'a Transaction profile without a session is not in force',
    profiles: [profile({ start: T0, periods: [[0, 10]] }), profile({ purpose: 'Transaction', start: T0, periods: [[0, 20]] })],
    expected: [[0, 10]],
  },
  {
    name: 'a Transaction profile naming another session is not in force',
    profiles: [profile({ start: T0, periods: [[0, 10]] }), profile({ purpose: 'Transaction', sessionId: 'session-99', start: T0, periods: [[0, 20]] })],
    expected: [[0, 10]],
    req: { transaction: { sessionId: 'session-7', startedAt: T0 } },
  },
  {
    name: 'StationMaximum caps the EVSE (the minimum of the purposes)',
    profiles: [
      profile({ purpose: 'StationMaximum', start: T0, periods: [[0, 12], [H, 24]] }, STATION),
      profile({ start: T0, periods: [[0, 16]] }),
    ],
    expected: [[0, 12], [H, 16]],
  },
  {
    name: 'StationMaximum is shared by the EVSEs charging',
    profiles: [profile({ purpose: 'StationMaximum', start: T0, periods: [[0, 40]] }, STATION)],
    expected: [[0, 20]],
    req: { sharedBy: 2 },
  },
  {
    name: 'the station as a whole (StationMaximum and hardware only)',
    profiles: [profile({ purpose: 'StationMaximum', start: T0, periods: [[0, 50]] }, STATION), profile({ start: T0, periods: [[0, 6]] })],
    expected: [[0, 50]],
    req: { target: STATION, electrical: { ...E3, maxCurrentA: 64 } },
  },
  {
    name: 'W limits become A with the nominal voltage and the wired phases (11040 W / 3 × 230 V = 16 A)',
    profiles: [profile({ unit: 'W', start: T0, periods: [[0, 11_040], [H, 4_140]] })],
    expected: [[0, 16], [H, 6]],
  },
  {
    name: 'A limits reported in W (16 A × 230 V × 3 = 11040 W; hardware 32 A = 22080 W)',
    profiles: [profile({ start: T0, duration: H, periods: [[0, 16]] })],
    expected: [[0, 11_040], [H, 22_080]],
    req: { unit: 'W' },
  },
  {
    name: 'a single-phase EVSE: 3680 W = 16 A',
    profiles: [profile({ unit: 'W', start: T0, periods: [[0, 3_680]] })],
    expected: [[0, 16]],
    req: { electrical: E1 },
  },
  {
    name: 'numberPhases without phase switching: the wired phases are used (3680 W on 3 phases = 5.3 A)',
    profiles: [profile({ unit: 'W', start: T0, periods: [[0, 3_680, 1]] })],
    expected: [[0, 5.3, 3]],
  },
  {
    name: 'numberPhases with phase switching: 3680 W on 1 phase = 16 A',
    profiles: [profile({ unit: 'W', start: T0, periods: [[0, 3_680, 1]] })],
    expected: [[0, 16, 1]],
    req: { electrical: { ...E3, phaseSwitching: true } },
  },
  {
    name: 'relative schedule: anchored at the transaction start',
    profiles: [profile({ kind: 'Relative', purpose: 'Transaction', periods: [[0, 6], [600, 16]], duration: 1_800 })],
    expected: [[0, 6], [300, 16], [1_500, 32]],
    req: { transaction: { startedAt: T0 - 300_000 } },
  },
  {
    name: 'relative TransactionDefault without a session: as if one started now',
    profiles: [profile({ kind: 'Relative', periods: [[0, 6], [600, 16]] })],
    expected: [[0, 6], [600, 16]],
  },
  {
    name: 'daily recurring across midnight: 22:00Z–02:00Z at 8 A',
    profiles: [profile({ kind: 'Recurring', recurrence: 'Daily', start: Date.UTC(2026, 0, 1, 22), periods: [[0, 8], [4 * H, 16]] })],
    expected: [[0, 16], [10 * H, 8], [14 * H, 16]],
    req: { startMs: T0, durationS: 20 * H },
  },
  {
    name: 'daily recurring with a duration shorter than a day: lower levels show through the gap',
    profiles: [
      profile({ stackLevel: 0, start: T0 - HMS, periods: [[0, 20]] }),
      profile({ stackLevel: 1, kind: 'Recurring', recurrence: 'Daily', start: Date.UTC(2026, 0, 1, 22), duration: 4 * H, periods: [[0, 8]] }),
    ],
    expected: [[0, 20], [10 * H, 8], [14 * H, 20], [34 * H, 8]],
    req: { startMs: T0, durationS: 36 * H },
  },
  {
    name: 'daily recurring is not in force before its first startSchedule',
    profiles: [profile({ kind: 'Recurring', recurrence: 'Daily', start: T0 + 2 * HMS, periods: [[0, 8]] })],
    expected: [[0, 32], [2 * H, 8]],
    req: { durationS: 4 * H },
  },
  {
    name: 'weekly recurring: Mondays 08:00Z–09:00Z only (2026-01-12 is a Monday)',
    profiles: [profile({ kind: 'Recurring', recurrence: 'Weekly', start: Date.UTC(2026, 0, 5, 8), duration: H, periods: [[0, 10]] })],
    expected: [[0, 32], [44 * H, 10], [45 * H, 32]],
    req: { startMs: T0, durationS: 7 * 24 * H },
  },
  {
    name: 'DST spring-forward (Europe, 2026-03-29 01:00Z): a daily 22:00Z schedule stays at 22:00Z (00:00 CEST)',
    profiles: [profile({ kind: 'Recurring', recurrence: 'Daily', start: Date.UTC(2026, 2, 20, 22), duration: 2 * H, periods: [[0, 6]] })],
    expected: [[0, 6], [2 * H, 32], [24 * H, 6], [26 * H, 32]],
    req: { startMs: Date.UTC(2026, 2, 28, 22), durationS: 48 * H },
  },
  {
    name: 'DST fall-back (Europe, 2026-10-25 01:00Z): still every 86400 s',
    profiles: [profile({ kind: 'Recurring', recurrence: 'Daily', start: Date.UTC(2026, 9, 1, 23), duration: H, periods: [[0, 6]] })],
    expected: [[0, 32], [H, 6], [2 * H, 32], [25 * H, 6], [26 * H, 32]],
    req: { startMs: Date.UTC(2026, 9, 24, 22), durationS: 48 * H },
  },
  {
    // Modelled on the stacking figure of OCPP 1.6 §3.13.3: a grid cap, a default evening
    // reduction and a transaction's own profile, in force together.
    name: 'the three purposes together',
    profiles: [
      profile({ purpose: 'StationMaximum', kind: 'Recurring', recurrence: 'Daily', start: Date.UTC(2026, 0, 1, 0), unit: 'W', periods: [[0, 22_080], [17 * H, 11_040], [20 * H, 22_080]] }, STATION),
      profile({ stackLevel: 0, kind: 'Recurring', recurrence: 'Daily', start: Date.UTC(2026, 0, 1, 0), periods: [[0, 32], [18 * H, 10], [19 * H, 32]] }, STATION),
      profile({ purpose: 'Transaction', stackLevel: 2, kind: 'Relative', duration: 2 * H, periods: [[0, 24]] }),
    ],
    // From 16:00Z; transaction since 15:30Z: Transaction 24 A until 17:30Z (capped at 16 A from 17:00Z), then the default.
    expected: [[0, 24], [H, 16], [1.5 * H, 16], [2 * H, 10], [3 * H, 16], [4 * H, 32]].filter((x, i, a) => i === 0 || x[1] !== a[i - 1]![1]) as [number, number][],
    req: { startMs: Date.UTC(2026, 0, 10, 16), durationS: 6 * H, transaction: { sessionId: 'session-1', startedAt: Date.UTC(2026, 0, 10, 15, 30) } },
  },
];

describe('compositeSchedule (table)', () => {
  it.each(cases)('$name', ({ profiles, expected, req }) => {
    const s = compositeSchedule({ profiles, target: EVSE1, startMs: T0, durationS: 3 * H, unit: 'A', electrical: E3, ...req });
    expect(s.periods.map((p) => (p.numberPhases !== undefined ? [p.startPeriod, p.limit, p.numberPhases] : [p.startPeriod, p.limit]))).toEqual(expected);
  });
});

describe('composite limits at the boundaries', () => {
  const ps = [profile({ start: T0, duration: 2 * H, periods: [[0, 16], [H, 10]], validTo: iso(T0 + 1.5 * HMS) })];
  const req: CompositeRequest = { profiles: ps, target: EVSE1, startMs: T0, durationS: H, unit: 'A', electrical: E3 };
  it.each([
    ['just before the schedule starts', T0 - 1, 32],
    ['at its start', T0, 16],
    ['the last millisecond of the first period', T0 + HMS - 1, 16],
    ['at the second period', T0 + HMS, 10],
    ['the last millisecond of validity', T0 + 1.5 * HMS - 1, 10],
    ['at validTo (exclusive)', T0 + 1.5 * HMS, 32],
  ])('%s', (_name, t, limit) => {
    expect(compositeLimitAt(req, t).limit).toBe(limit);
  });

  it('a boundary inside a second takes effect at the whole second after it', () => {
    const s = compositeSchedule({ ...req, startMs: T0 - 400, durationS: 10 });
    expect(s.periods).toEqual([{ startPeriod: 0, limit: 32 }, { startPeriod: 1, limit: 16 }]);
  });

  it('limitNow gives the limit in force and when it next changes', () => {
    expect(limitNow({ profiles: ps, target: EVSE1, startMs: T0 + 10_000, electrical: E3 })).toEqual({ limitA: 16, nextChangeAt: T0 + HMS });
    expect(limitNow({ profiles: ps, target: EVSE1, startMs: T0 + HMS, electrical: E3 })).toEqual({ limitA: 10, nextChangeAt: T0 + 1.5 * HMS });
    // Nothing changes within the horizon: wake at the horizon to look again.
    expect(limitNow({ profiles: [], target: EVSE1, startMs: T0, electrical: E3 }, 100)).toEqual({ limitA: 32, nextChangeAt: T0 + 100_000 });
  });

  it('a limit of 0 is a limit (suspend), not "no limit"', () => {
    const zero = [profile({ start: T0, periods: [[0, 0], [60, 16]] })];
    expect(compositeSchedule({ ...req, profiles: zero, durationS: 120 }).periods).toEqual([{ startPeriod: 0, limit: 0 }, { startPeriod: 60, limit: 16 }]);
  });
});
