/**
 * A California Pricing campaign to a fleet of 1.6 chargers: every simulated charger takes the
 * central system's SetUserPrice (DataTransfer org.openchargealliance.costmsg) from the strict 1.6
 * server and refuses a FinalCost for a transaction it does not know; the fleet's report counts the
 * cost messages by messageId and answer, in its JSON and its table, apart from other DataTransfers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatReport } from '../../../src/app/fleet/report.js';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const COUNT = 8;
const VENDOR = 'org.openchargealliance.costmsg';

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

describe('a fleet of 1.6 chargers and California Pricing cost messages', () => {
  it('every charger accepts SetUserPrice and rejects an unknown transaction\'s FinalCost; the report counts them by messageId', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    servers.push(csms);
    const deadline = Date.now() + 90_000;
    type Outcome = { id: string; price: any; final: any; other: any };
    let outcomes: Outcome[] | undefined;
    let sent = false;
    let failure: unknown;
    const campaign = async (): Promise<Outcome[]> => Promise.all([...csms.clients.keys()].map(async (id) => ({
      id,
      price: await csms.call(id, 'DataTransfer', { vendorId: VENDOR, messageId: 'SetUserPrice', data: JSON.stringify({ idToken: 'CAMPAIGN1', priceText: '0.29 EUR/kWh tonight' }) }),
      final: await csms.call(id, 'DataTransfer', { vendorId: VENDOR, messageId: 'FinalCost', data: JSON.stringify({ transactionId: 999_999, cost: 1, priceText: 'x' }) }),
      other: await csms.call(id, 'DataTransfer', { vendorId: 'com.example', messageId: 'Hello' }),
    })));
    const { report } = await new FleetRunner({
      count: COUNT, scenario: loadScenario('smoke'), workers: 1, urls: [url], timeScale: 60, startMs: START, seed: 7, statusIntervalMs: 200, drainMs: 30_000,
      stopWhen: (st) => {
        if (!sent && st.counters.chargersAccepted === COUNT && csms.clients.size === COUNT) {
          sent = true;
          campaign().then((o) => { outcomes = o; }, (err) => { failure = err; outcomes = []; });
        }
        return outcomes !== undefined || Date.now() > deadline;
      },
    }).run();
    expect(failure).toBeUndefined();
    expect(outcomes).toHaveLength(COUNT);
    for (const o of outcomes!) {
      expect(o.price, o.id).toEqual({ status: 'Accepted' });
      expect(o.final, o.id).toEqual({ status: 'Rejected' });
      expect(o.other, o.id).toEqual({ status: 'UnknownVendorId' });
    }
    expect(report.stats.incoming).toMatchObject({
      'DataTransfer costmsg SetUserPrice': { received: COUNT, answers: { Accepted: COUNT } },
      'DataTransfer costmsg FinalCost': { received: COUNT, answers: { Rejected: COUNT } },
      DataTransfer: { received: COUNT, answers: { UnknownVendorId: COUNT } },
    });
    expect(formatReport(report)).toContain(`DataTransfer costmsg SetUserPrice ${COUNT} (Accepted ${COUNT})`);
    expect(csms.validationFailures).toEqual([]);
  }, 180_000);
});
