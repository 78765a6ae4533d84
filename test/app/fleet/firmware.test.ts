import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
let csms: TestCsms | undefined;
afterEach(async () => {
  await csms?.stop();
  csms = undefined;
});

describe('fleet: Firmware Management on simulated chargers', () => {
  it('goes through the firmware and diagnostics statuses with realistic timings, waiting for sessions to end', async () => {
    csms = new TestCsms();
    const url = await csms.start();
    const server = csms;
    const run = new FleetRunner({
      count: 4, scenario: loadScenario('smoke'), workers: 0, urls: [url], timeScale: 600, durationMs: 90 * 60_000, startMs: START, seed: 3,
    }).run();
    const ids = ['SIM-00001', 'SIM-00002', 'SIM-00003', 'SIM-00004'];
    await waitFor(() => ids.every((id) => server.clients.has(id) && server.callsOf('BootNotification', id).length > 0), 20_000, 'all four accepted');
    for (const id of ids) {
      await server.call(id, 'UpdateFirmware', { location: 'https://firmware.example/sim-2.bin', retrieveDate: new Date(0).toISOString() });
      expect(await server.call(id, 'GetDiagnostics', { location: 'ftp://diagnostics.example/' })).toMatchObject({ fileName: expect.stringContaining(id) });
    }
    await run;
    expect(server.validationFailures).toEqual([]);
    for (const id of ids) {
      const fw = server.callsOf('FirmwareStatusNotification', id).map((c) => c.params.status);
      expect(fw, id).toEqual(['Downloading', 'Downloaded', 'Installing', 'Installed']);
      expect(server.callsOf('DiagnosticsStatusNotification', id).map((c) => c.params.status), id).toEqual(['Uploading', 'Uploaded']);
      // While installing, no session ran: every StartTransaction is before Installing or after Installed.
      const calls = server.calls.filter((c) => c.chargePointId === id);
      const installing = calls.findIndex((c) => c.action === 'FirmwareStatusNotification' && c.params.status === 'Installing');
      const installed = calls.findIndex((c) => c.action === 'FirmwareStatusNotification' && c.params.status === 'Installed');
      expect(calls.slice(installing, installed).some((c) => c.action === 'StartTransaction')).toBe(false);
    }
  });
});
