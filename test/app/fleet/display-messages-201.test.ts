/**
 * A display-message campaign to a fleet of 2.0.1 chargers: every simulated charger accepts a
 * SetDisplayMessage from the strict 2.0.1 server, refuses an HTML one, reports its messages
 * (GetDisplayMessages → NotifyDisplayMessages), and the fleet's report counts what the central
 * system sent and how the chargers answered, in its JSON and its table; merging two shard reports
 * adds them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mergeStats } from '../../../src/app/fleet/metrics.js';
import { formatReport } from '../../../src/app/fleet/report.js';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const COUNT = 12;

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

describe('a fleet of 2.0.1 chargers and display messages', () => {
  it('every charger accepts the campaign\'s message, refuses HTML, reports it; the report counts SetDisplayMessage received and accepted', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    csms.on('NotifyDisplayMessages', () => ({}));
    const url = await csms.start();
    servers.push(csms);
    const deadline = Date.now() + 90_000;
    const message = { id: 42, priority: 'InFront', message: { format: 'UTF8', language: 'en', content: 'Free charging this weekend' } };
    type Outcome = { id: string; set: any; html: any; get: any };
    let outcomes: Outcome[] | undefined;
    let sent = false;
    let failure: unknown;
    const campaign = async (): Promise<Outcome[]> => Promise.all([...csms.clients.keys()].map(async (id) => ({
      id,
      set: await csms.call(id, 'SetDisplayMessage', { message }),
      html: await csms.call(id, 'SetDisplayMessage', { message: { ...message, id: 43, message: { format: 'HTML', content: '<b>Free</b>' } } }),
      get: await csms.call(id, 'GetDisplayMessages', { requestId: 5, id: [42] }),
    })));
    const { report } = await new FleetRunner({
      count: COUNT, scenario: loadScenario('smoke'), ocpp: '2.0.1', workers: 1, urls: [url], timeScale: 60, startMs: START, seed: 7, statusIntervalMs: 200, drainMs: 30_000,
      stopWhen: (st) => {
        if (!sent && st.counters.chargersAccepted === COUNT && csms.clients.size === COUNT) {
          sent = true;
          campaign().then((o) => { outcomes = o; }, (err) => { failure = err; outcomes = []; });
        }
        return (outcomes !== undefined && (failure !== undefined || csms.callsOf('NotifyDisplayMessages').length >= COUNT)) || Date.now() > deadline;
      },
    }).run();
    expect(failure).toBeUndefined();
    expect(outcomes).toHaveLength(COUNT);
    for (const o of outcomes!) {
      expect(o.set, o.id).toEqual({ status: 'Accepted' });
      expect(o.html.status, o.id).toBe('NotSupportedMessageFormat');
      expect(o.get, o.id).toEqual({ status: 'Accepted' });
    }
    const notified = csms.callsOf('NotifyDisplayMessages');
    expect(new Set(notified.map((c) => c.chargePointId)).size).toBe(COUNT);
    for (const n of notified) expect(n.params).toEqual({ requestId: 5, messageInfo: [message] });
    // The report: what the central system sent, by the chargers' answers.
    expect(report.stats.incoming).toMatchObject({
      SetDisplayMessage: { received: 2 * COUNT, answers: { Accepted: COUNT, NotSupportedMessageFormat: COUNT } },
      GetDisplayMessages: { received: COUNT, answers: { Accepted: COUNT } },
    });
    expect(report.stats.counters.callsFromCentral).toBeGreaterThanOrEqual(3 * COUNT);
    expect(formatReport(report)).toContain(`SetDisplayMessage ${2 * COUNT} (Accepted ${COUNT}, NotSupportedMessageFormat ${COUNT})`);
    // Two shards' reports add up.
    const merged = mergeStats(report.stats, report.stats);
    expect(merged.incoming!.SetDisplayMessage).toEqual({ received: 4 * COUNT, answers: { Accepted: 2 * COUNT, NotSupportedMessageFormat: 2 * COUNT } });
    expect(csms.validationFailures).toEqual([]);
  }, 180_000);
});
