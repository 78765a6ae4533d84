/**
 * Smart-charging profile distribution to a fleet of 2.0.1 chargers: every simulated charger
 * accepts a ChargingStationMaxProfile from the strict 2.0.1 server, reports it in its composite
 * schedule and in ReportChargingProfiles, and refuses an invalid one, like the agent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const COUNT = 20;

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

describe('a fleet of 2.0.1 chargers and charging profiles', () => {
  it('every charger accepts a station maximum, reports it (GetCompositeSchedule, GetChargingProfiles) and refuses an invalid profile', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    csms.on('ReportChargingProfiles', () => ({}));
    const url = await csms.start();
    servers.push(csms);
    const deadline = Date.now() + 90_000;
    const max = {
      id: 500, stackLevel: 0, chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', // Before the fleet's simulated clock (START) and the real one.
      startSchedule: '2025-01-01T00:00:00.000Z', chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] }],
    };
    type Outcome = { id: string; set: any; invalid: any; composite: any; get: any };
    let outcomes: Outcome[] | undefined;
    let sent = false;
    let failure: unknown;
    const distribute = async (): Promise<Outcome[]> => Promise.all([...csms.clients.keys()].map(async (id) => ({
      id,
      set: await csms.call(id, 'SetChargingProfile', { evseId: 0, chargingProfile: max }),
      invalid: await csms.call(id, 'SetChargingProfile', { evseId: 1, chargingProfile: { ...max, id: 501 } }),
      composite: await csms.call(id, 'GetCompositeSchedule', { evseId: 0, duration: 60, chargingRateUnit: 'A' }),
      get: await csms.call(id, 'GetChargingProfiles', { requestId: 9, chargingProfile: { chargingProfilePurpose: 'ChargingStationMaxProfile' } }),
    })));
    await new FleetRunner({
      count: COUNT, scenario: loadScenario('smoke'), ocpp: '2.0.1', workers: 1, urls: [url], timeScale: 60, startMs: START, seed: 7, statusIntervalMs: 200, drainMs: 30_000,
      stopWhen: (st) => {
        if (!sent && st.counters.chargersAccepted === COUNT && csms.clients.size === COUNT) {
          sent = true;
          distribute().then((o) => { outcomes = o; }, (err) => { failure = err; outcomes = []; });
        }
        return (outcomes !== undefined && (failure !== undefined || csms.callsOf('ReportChargingProfiles').length >= COUNT)) || Date.now() > deadline;
      },
    }).run();
    expect(failure).toBeUndefined();
    expect(outcomes).toHaveLength(COUNT);
    for (const o of outcomes!) {
      expect(o.set, o.id).toEqual({ status: 'Accepted' });
      expect(o.invalid, o.id).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidValue' } });
      expect(o.composite, o.id).toMatchObject({ status: 'Accepted', schedule: { evseId: 0, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] } });
      expect(o.get, o.id).toEqual({ status: 'Accepted' });
    }
    const reports = csms.callsOf('ReportChargingProfiles');
    expect(new Set(reports.map((c) => c.chargePointId)).size).toBe(COUNT);
    for (const r of reports) expect(r.params).toMatchObject({ requestId: 9, evseId: 0, tbc: false, chargingProfile: [{ id: 500 }] });
    expect(csms.validationFailures).toEqual([]);
  }, 180_000);
});
