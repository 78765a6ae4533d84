/**
 * Local-list distribution (SendLocalList) and smart-charging profile distribution
 * (SetChargingProfile) to fleets of 1.6 and 2.0.1 chargers from a strict central system: every
 * charger answers as the spec says, and the report counts what the central system sent by the
 * chargers' answers (stats.incoming), in its JSON and its table.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatReport } from '../../../src/app/fleet/report.js';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const COUNT = 12;
const SCHEDULE_START = '2025-01-01T00:00:00.000Z';

/** What the central system sends each charger: a full list, its version, a station maximum, and one profile each version must refuse. */
const CAMPAIGN = {
  '1.6': {
    list: { listVersion: 3, updateType: 'Full', localAuthorizationList: [{ idTag: 'FLEET-TAG-1', idTagInfo: { status: 'Accepted' } }, { idTag: 'FLEET-TAG-2', idTagInfo: { status: 'Blocked' } }] },
    listVersion: ['GetLocalListVersion', {}, { listVersion: 3 }],
    profile: { connectorId: 0, csChargingProfiles: { chargingProfileId: 500, stackLevel: 0, chargingProfilePurpose: 'ChargePointMaxProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: { chargingRateUnit: 'A', startSchedule: SCHEDULE_START, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] } } },
    // A ChargePointMaxProfile on a connector other than 0 (1.6: connector 0 only): Rejected.
    invalid: { connectorId: 1, csChargingProfiles: { chargingProfileId: 501, stackLevel: 0, chargingProfilePurpose: 'ChargePointMaxProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: { chargingRateUnit: 'A', startSchedule: SCHEDULE_START, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] } } },
  },
  '2.0.1': {
    list: { versionNumber: 3, updateType: 'Full', localAuthorizationList: [{ idToken: { idToken: 'FLEET-TAG-1', type: 'ISO14443' }, idTokenInfo: { status: 'Accepted' } }, { idToken: { idToken: 'FLEET-TAG-2', type: 'ISO14443' }, idTokenInfo: { status: 'Blocked' } }] },
    listVersion: ['GetLocalListVersion', {}, { versionNumber: 3 }],
    profile: { evseId: 0, chargingProfile: { id: 500, stackLevel: 0, chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: SCHEDULE_START, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] }] } },
    // A ChargingStationMaxProfile on an EVSE (K01: only on evseId 0): Rejected.
    invalid: { evseId: 1, chargingProfile: { id: 501, stackLevel: 0, chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: SCHEDULE_START, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] }] } },
  },
} as const;

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

describe('local-list and charging-profile distribution to a fleet, counted by the report', () => {
  for (const version of ['1.6', '2.0.1'] as const) {
    it(`${version}: every charger takes the list and the station maximum and refuses a misplaced maximum; stats.incoming counts each by answer`, async () => {
      const csms = new TestCsms({ protocol: version === '1.6' ? 'ocpp1.6' : 'ocpp2.0.1' });
      const url = await csms.start();
      servers.push(csms);
      const c = CAMPAIGN[version];
      const deadline = Date.now() + 90_000;
      type Outcome = { id: string; list: any; version: any; profile: any; invalid: any };
      let outcomes: Outcome[] | undefined;
      let sent = false;
      let failure: unknown;
      const distribute = async (): Promise<Outcome[]> => Promise.all([...csms.clients.keys()].map(async (id) => ({
        id,
        list: await csms.call(id, 'SendLocalList', c.list),
        version: await csms.call(id, c.listVersion[0], c.listVersion[1]),
        profile: await csms.call(id, 'SetChargingProfile', c.profile),
        invalid: await csms.call(id, 'SetChargingProfile', c.invalid),
      })));
      const { report } = await new FleetRunner({
        count: COUNT, scenario: loadScenario('smoke'), ocpp: version, workers: 1, urls: [url], timeScale: 60, startMs: START, seed: 5, statusIntervalMs: 200, drainMs: 30_000,
        stopWhen: (st) => {
          if (!sent && st.counters.chargersAccepted === COUNT && csms.clients.size === COUNT) {
            sent = true;
            distribute().then((o) => { outcomes = o; }, (err) => { failure = err; outcomes = []; });
          }
          return outcomes !== undefined || Date.now() > deadline;
        },
      }).run();
      expect(failure).toBeUndefined();
      expect(outcomes).toHaveLength(COUNT);
      for (const o of outcomes!) {
        expect(o.list, o.id).toMatchObject({ status: 'Accepted' });
        expect(o.version, o.id).toEqual(c.listVersion[2]);
        expect(o.profile, o.id).toMatchObject({ status: 'Accepted' });
        expect(o.invalid, o.id).toMatchObject({ status: 'Rejected' });
      }
      expect(report.stats.incoming).toMatchObject({
        SendLocalList: { received: COUNT, answers: { Accepted: COUNT } },
        SetChargingProfile: { received: 2 * COUNT, answers: { Accepted: COUNT, Rejected: COUNT } },
        GetLocalListVersion: { received: COUNT },
      });
      const table = formatReport(report);
      expect(table).toContain(`SendLocalList ${COUNT} (Accepted ${COUNT})`);
      expect(table).toContain(`SetChargingProfile ${2 * COUNT} (Accepted ${COUNT}, Rejected ${COUNT})`);
      expect(csms.validationFailures).toEqual([]);
    }, 180_000);
  }
});
