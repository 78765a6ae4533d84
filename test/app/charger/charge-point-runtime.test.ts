import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../src/core/clock.js';
import { silentLog } from '../../../src/lib/log.js';
import { pseudonymiser } from '../../../src/lib/pseudonym.js';
import { keyDefinitions } from '../../../src/ocpp/v16/configuration.js';
import { ChargePointRuntime, type FirmwareNotify } from '../../../src/app/charger/charge-point-runtime.js';
import { SimConnector, SimIdReader } from '../../../src/sim/index.js';
import { openDatabase, type SqliteDatabase } from '../../../src/store/index.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

const CP = 'CP-RUNTIME-1';
let csms: TestCsms | undefined;
let runtime: ChargePointRuntime | undefined;
let db: SqliteDatabase | undefined;
afterEach(async () => {
  await runtime?.stop();
  db?.close();
  await csms?.stop();
  runtime = undefined;
  db = undefined;
  csms = undefined;
});

/** One charge point through ChargePointRuntime, with a Firmware Management whose notify the test drives. */
function startRuntime(url: string): { notify: () => FirmwareNotify } {
  const clock = new SystemClock();
  db = openDatabase(':memory:', { log: silentLog });
  const sim = new SimConnector({
    clock, phases: 3, nominalVoltageV: 230, maxCurrentA: 32, initialEnergyWh: 1_000, seed: 1, arrivalDelayMs: 0, departureDelayMs: 0,
    vehicle: () => ({ batteryWh: 60_000, maxPowerW: 11_000, socPct: 50, targetSocPct: 90 }),
  });
  const definitions = keyDefinitions({ numberOfConnectors: 1, featureProfiles: ['Core', 'FirmwareManagement'] });
  let notify: FirmwareNotify | undefined;
  runtime = new ChargePointRuntime({
    chargePointId: CP, db, clock, log: silentLog, pseudonym: pseudonymiser(Buffer.alloc(32, 7)),
    hardware: { evses: [{ evseId: 1, meter: sim.meter, powerPath: sim.powerPath, maxCurrentA: 32, phases: 3, nominalVoltageV: 230, maxPowerW: 22_080 }], readers: [new SimIdReader()] },
    identity: { vendor: 'evse-edge', model: 'TEST', firmwareVersion: 'test-1' },
    csms: { url, callTimeoutMs: 5_000, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 },
    definitions, defaults: new Map(definitions.map((d) => [d.key, d.default])),
    firmware: (cp) => {
      notify = cp.notify;
      return { firmware: { update: () => {}, status: () => 'Idle' }, diagnostics: { request: () => undefined, status: () => 'Idle' }, stop: () => {} };
    },
  });
  void runtime.start();
  return { notify: () => notify! };
}

describe('ChargePointRuntime', () => {
  it('sends firmware and diagnostics statuses while online; offline, the latest of each waits and goes once Accepted again', async () => {
    csms = new TestCsms();
    const url = await csms.start();
    const port = Number(new URL(url).port);
    const { notify } = startRuntime(url);
    await waitFor(() => runtime!.link.state === 'accepted', 10_000, 'accepted');
    await notify()('FirmwareStatusNotification', { status: 'Downloading' });
    expect(csms.callsOf('FirmwareStatusNotification').map((c) => c.params.status)).toEqual(['Downloading']);

    // The central system goes away: statuses wait, the latest of each kind kept.
    await csms.stop();
    await waitFor(() => !runtime!.link.online(), 10_000, 'offline');
    await notify()('FirmwareStatusNotification', { status: 'Downloaded' });
    await notify()('DiagnosticsStatusNotification', { status: 'Uploading' });
    await notify()('FirmwareStatusNotification', { status: 'Installing' });

    csms = new TestCsms();
    await csms.start(port);
    const back = csms;
    await waitFor(() => back.callsOf('FirmwareStatusNotification').length > 0 && back.callsOf('DiagnosticsStatusNotification').length > 0, 15_000, 'held statuses sent');
    expect(back.callsOf('FirmwareStatusNotification').map((c) => c.params.status)).toEqual(['Installing']);
    expect(back.callsOf('DiagnosticsStatusNotification').map((c) => c.params.status)).toEqual(['Uploading']);
    // After the BootNotification that made it Accepted again.
    const actions = back.calls.map((c) => c.action);
    expect(actions.indexOf('BootNotification')).toBeLessThan(actions.indexOf('FirmwareStatusNotification'));
    expect(back.validationFailures).toEqual([]);
  });
});
