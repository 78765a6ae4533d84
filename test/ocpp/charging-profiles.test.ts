/**
 * The 1.6 binding's conversion of charging profiles to the core's limit profiles and back
 * (src/ocpp/v16/charging-profiles.ts): each purpose and kind, connector 0 <-> the station,
 * transactionId <-> the session's local id, every optional field, ClearChargingProfile's criteria;
 * and a 1.6 profile, converted, limits as the core's table says.
 */
import { describe, expect, it } from 'vitest';
import { compositeSchedule, evseTarget, STATION, type LimitProfile } from '../../src/core/smart-charging/index.js';
import {
  connectorOfTarget, fromV16ClearCriteria, fromV16Profile, fromV16Purpose, targetOfConnector, toV16Installed, toV16Profile, toV16Purpose,
  type ChargingProfile, type ChargingProfileKind, type ChargingProfilePurpose,
} from '../../src/ocpp/v16/charging-profiles.js';

const noSession = () => undefined;
const sessions = new Map([[4242, 'local-a'], [7, 'local-b']]);
const sessionOf = (transactionId: number) => sessions.get(transactionId);
const transactionIdOf = (localId: string) => [...sessions].find(([, l]) => l === localId)?.[0];

const v16 = (o: Partial<ChargingProfile> = {}): ChargingProfile => ({
  chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute',
  chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] },
  ...o,
});

describe('1.6 connector <-> target', () => {
  it.each([[0, STATION], [1, evseTarget(1)], [2, evseTarget(2)], [12, evseTarget(12)]] as const)('connector %i', (connectorId, target) => {
    expect(targetOfConnector(connectorId)).toEqual(target);
    expect(connectorOfTarget(target)).toBe(connectorId);
  });
});

describe('purposes', () => {
  it.each([
    ['ChargePointMaxProfile', 'StationMaximum'], ['TxDefaultProfile', 'TransactionDefault'], ['TxProfile', 'Transaction'],
  ] as const)('%s <-> %s', (v16Purpose, purpose) => {
    expect(fromV16Purpose(v16Purpose)).toBe(purpose);
    expect(toV16Purpose(purpose)).toBe(v16Purpose);
    const p = fromV16Profile(v16({ chargingProfilePurpose: v16Purpose }), noSession);
    expect(p.purpose).toBe(purpose);
    expect(toV16Profile(p, transactionIdOf)).toEqual(v16({ chargingProfilePurpose: v16Purpose }));
  });
});

describe('kinds, each converted and back unchanged', () => {
  const cases: { name: string; profile: ChargingProfile; neutral: LimitProfile }[] = [
    {
      name: 'Absolute with startSchedule, duration, validity, numberPhases and minChargingRate',
      profile: v16({
        chargingProfileId: 11, stackLevel: 3, chargingProfilePurpose: 'ChargePointMaxProfile', chargingProfileKind: 'Absolute',
        validFrom: '2026-12-01T00:00:00Z', validTo: '2026-12-02T00:00:00.000+01:00',
        chargingSchedule: {
          duration: 7_200, startSchedule: '2026-12-01T06:00:00.000Z', chargingRateUnit: 'W', minChargingRate: 1_380.5,
          chargingSchedulePeriod: [{ startPeriod: 0, limit: 11_040 }, { startPeriod: 1_800, limit: 3_680, numberPhases: 1 }],
        },
      }),
      neutral: {
        id: 11, stackLevel: 3, purpose: 'StationMaximum', kind: 'Absolute', validFrom: '2026-12-01T00:00:00Z', validTo: '2026-12-02T00:00:00.000+01:00',
        schedules: [{
          startSchedule: '2026-12-01T06:00:00.000Z', durationS: 7_200, unit: 'W', minRate: 1_380.5,
          periods: [{ startPeriod: 0, limit: 11_040 }, { startPeriod: 1_800, limit: 3_680, numberPhases: 1 }],
        }],
      },
    },
    {
      name: 'Recurring Daily',
      profile: v16({ chargingProfileKind: 'Recurring', recurrencyKind: 'Daily', chargingSchedule: { startSchedule: '2026-01-01T22:00:00.000Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] } }),
      neutral: { id: 1, stackLevel: 0, purpose: 'TransactionDefault', kind: 'Recurring', recurrence: 'Daily', schedules: [{ startSchedule: '2026-01-01T22:00:00.000Z', unit: 'A', periods: [{ startPeriod: 0, limit: 8 }] }] },
    },
    {
      name: 'Recurring Weekly',
      profile: v16({ chargingProfileKind: 'Recurring', recurrencyKind: 'Weekly', chargingSchedule: { duration: 3_600, startSchedule: '2026-01-05T08:00:00.000Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] } }),
      neutral: { id: 1, stackLevel: 0, purpose: 'TransactionDefault', kind: 'Recurring', recurrence: 'Weekly', schedules: [{ startSchedule: '2026-01-05T08:00:00.000Z', durationS: 3_600, unit: 'A', periods: [{ startPeriod: 0, limit: 10 }] }] },
    },
    {
      name: 'Relative TxProfile naming its transaction',
      profile: v16({ chargingProfileId: 20, transactionId: 4242, stackLevel: 1, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative' }),
      neutral: { id: 20, stackLevel: 1, purpose: 'Transaction', kind: 'Relative', schedules: [{ unit: 'A', periods: [{ startPeriod: 0, limit: 16 }] }], sessionId: 'local-a' },
    },
    {
      name: 'TxProfile without transactionId (whichever session runs on the EVSE)',
      profile: v16({ chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative' }),
      neutral: { id: 1, stackLevel: 0, purpose: 'Transaction', kind: 'Relative', schedules: [{ unit: 'A', periods: [{ startPeriod: 0, limit: 16 }] }] },
    },
  ];
  it.each(cases)('$name', ({ profile, neutral }) => {
    const converted = fromV16Profile(profile, sessionOf);
    expect(converted).toEqual(neutral);
    expect(toV16Profile(converted, transactionIdOf)).toEqual(profile);
  });

  it.each(['Absolute', 'Recurring', 'Relative'] satisfies ChargingProfileKind[])('kind %s is kept', (kind) => {
    expect(fromV16Profile(v16({ chargingProfileKind: kind }), noSession).kind).toBe(kind);
  });
});

describe('transactions', () => {
  it('a transactionId no session is known by is refused (ERR_UNKNOWN_TRANSACTION), not installed as "any transaction"', () => {
    expect(() => fromV16Profile(v16({ chargingProfilePurpose: 'TxProfile', transactionId: 99 }), sessionOf)).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_TRANSACTION' }));
  });

  it('back to 1.6, a session without a transactionId yet (StartTransaction not confirmed) gives none', () => {
    const p = fromV16Profile(v16({ chargingProfilePurpose: 'TxProfile', transactionId: 55 }), () => 'local-unconfirmed');
    expect(p.sessionId).toBe('local-unconfirmed');
    expect(toV16Profile(p, transactionIdOf).transactionId).toBeUndefined();
  });

  it('an installed limit on the station is on connector 0 in 1.6', () => {
    const profile = fromV16Profile(v16({ chargingProfilePurpose: 'ChargePointMaxProfile' }), noSession);
    expect(toV16Installed({ target: STATION, profile, installedAt: 5 }, transactionIdOf)).toEqual({ connectorId: 0, profile: v16({ chargingProfilePurpose: 'ChargePointMaxProfile' }), installedAt: 5 });
    expect(toV16Installed({ target: evseTarget(2), profile, installedAt: 5 }, transactionIdOf).connectorId).toBe(2);
  });
});

describe('ClearChargingProfile criteria', () => {
  it.each([
    [{}, {}],
    [{ id: 7 }, { id: 7 }],
    [{ connectorId: 0 }, { target: STATION }],
    [{ connectorId: 2, chargingProfilePurpose: 'TxProfile' as ChargingProfilePurpose, stackLevel: 1 }, { target: evseTarget(2), purpose: 'Transaction', stackLevel: 1 }],
    [{ chargingProfilePurpose: 'ChargePointMaxProfile' as ChargingProfilePurpose }, { purpose: 'StationMaximum' }],
  ])('%j', (v16Criteria, criteria) => {
    expect(fromV16ClearCriteria(v16Criteria)).toEqual(criteria);
  });
});

describe('a 1.6 profile converted limits as the 1.6 rules say', () => {
  const E = { nominalVoltageV: 230, phases: 3 as const, maxCurrentA: 32, phaseSwitching: false };
  const T0 = Date.UTC(2026, 0, 10, 12);
  const at = (connectorId: number, p: ChargingProfile) => ({ target: targetOfConnector(connectorId), profile: fromV16Profile(p, sessionOf), installedAt: T0 });

  it('ChargePointMaxProfile on connector 0 caps a connector; its TxProfile for transaction 4242 applies to that session only', () => {
    const profiles = [
      at(0, v16({ chargingProfileId: 1, chargingProfilePurpose: 'ChargePointMaxProfile', chargingSchedule: { chargingRateUnit: 'W', startSchedule: new Date(T0).toISOString(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 13_800 }] } })),
      at(1, v16({ chargingProfileId: 2, chargingProfilePurpose: 'TxProfile', transactionId: 4242, chargingProfileKind: 'Relative', chargingSchedule: { chargingRateUnit: 'A', duration: 600, chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] } })),
      at(0, v16({ chargingProfileId: 3, chargingSchedule: { chargingRateUnit: 'A', startSchedule: new Date(T0).toISOString(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 24 }] } })),
    ];
    const req = { profiles, target: evseTarget(1), startMs: T0, durationS: 3_600, unit: 'A' as const, electrical: E };
    // 13800 W / (230 V × 3) = 20 A caps the default's 24 A; the TxProfile's 8 A for its first 600 s of the session since T0.
    expect(compositeSchedule({ ...req, transaction: { sessionId: 'local-a', startedAt: T0 } }).periods).toEqual([{ startPeriod: 0, limit: 8 }, { startPeriod: 600, limit: 20 }]);
    expect(compositeSchedule({ ...req, transaction: { sessionId: 'local-b', startedAt: T0 } }).periods).toEqual([{ startPeriod: 0, limit: 20 }]);
    expect(compositeSchedule({ ...req, target: STATION, electrical: { ...E, maxCurrentA: 64 } }).periods).toEqual([{ startPeriod: 0, limit: 20 }]);
  });
});
