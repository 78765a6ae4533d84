import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

/**
 * Simulated 2.0.1 chargers answer UpdateFirmware and GetLog as the 1.6 ones answer theirs (the
 * statuses with realistic timings, waiting for sessions to end, no bytes moved), with the
 * requestId, against the strict 2.0.1 server; the report counts the notifications.
 */
const START = Date.UTC(2026, 0, 5, 8, 0, 0);
let csms: TestCsms | undefined;
afterEach(async () => {
  await csms?.stop();
  csms = undefined;
});

describe('fleet on 2.0.1: UpdateFirmware and GetLog on simulated chargers', () => {
  it('goes through Downloading, Downloaded, Installing, Installed (requestId on each) and Uploading, Uploaded; no transaction starts while installing; a second update cancels the first; counted in the report', async () => {
    csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    const server = csms;
    const run = new FleetRunner({
      count: 4, scenario: loadScenario('smoke'), ocpp: '2.0.1', workers: 0, urls: [url], timeScale: 600, durationMs: 90 * 60_000, startMs: START, seed: 3,
    }).run();
    const ids = ['SIM-00001', 'SIM-00002', 'SIM-00003', 'SIM-00004'];
    await waitFor(() => ids.every((id) => server.clients.has(id) && server.callsOf('BootNotification', id).length > 0), 20_000, 'all four accepted');
    const firmware = (requestId: number) => ({ requestId, firmware: { location: 'https://firmware.example/sim-2.bin', retrieveDateTime: new Date(0).toISOString() } });
    for (const [i, id] of ids.entries()) {
      expect(await server.call(id, 'UpdateFirmware', firmware(100 + i))).toEqual({ status: 'Accepted' });
      // A second update while the first runs (accepted, not yet installed): it replaces it.
      if (i === 0) expect(await server.call(id, 'UpdateFirmware', firmware(110))).toEqual({ status: 'AcceptedCanceled' });
      expect(await server.call(id, 'GetLog', { requestId: 200 + i, logType: 'DiagnosticsLog', log: { remoteLocation: 'ftp://logs.example/' } }))
        .toEqual({ status: 'Accepted', filename: expect.stringContaining(id) });
    }
    // A signed one: its signing certificate chains to no Manufacturer root (a simulated charger keeps none).
    const signed = await server.call(ids[1]!, 'UpdateFirmware', { requestId: 120, firmware: { ...firmware(120).firmware, signature: 'c2ln', signingCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' } });
    expect(signed.status).toBe('InvalidCertificate');
    const { report } = await run;
    expect(server.validationFailures).toEqual([]);
    for (const [i, id] of ids.entries()) {
      const requestId = i === 0 ? 110 : 100 + i;
      const all = server.callsOf('FirmwareStatusNotification', id).map((c) => c.params);
      const fw = all.filter((p) => p.requestId === requestId);
      expect(fw.map((p) => p.status), id).toEqual(['Downloading', 'Downloaded', 'Installing', 'Installed']);
      // The cancelled update's statuses (SIM-00001's first) stopped where it was cancelled, before the new one's.
      const cancelled = all.filter((p) => p.requestId !== requestId);
      expect(cancelled.every((p) => p.requestId === 100 && i === 0), id).toBe(true);
      expect(['Downloading', 'Downloaded', 'Installing'].slice(0, cancelled.length)).toEqual(cancelled.map((p) => p.status));
      expect(all.slice(0, cancelled.length)).toEqual(cancelled);
      expect(server.callsOf('LogStatusNotification', id).map((c) => [c.params.status, c.params.requestId]), id).toEqual([['Uploading', 200 + i], ['Uploaded', 200 + i]]);
      const calls = server.calls.filter((c) => c.chargePointId === id);
      const installing = calls.findIndex((c) => c.action === 'FirmwareStatusNotification' && c.params.status === 'Installing');
      const installed = calls.findIndex((c) => c.action === 'FirmwareStatusNotification' && c.params.status === 'Installed');
      expect(installing).toBeGreaterThan(-1);
      expect(calls.slice(installing, installed).some((c) => c.action === 'TransactionEvent' && c.params.eventType === 'Started')).toBe(false);
    }
    // The report counts what the central system received.
    expect(report.stats.actions.FirmwareStatusNotification?.count).toBe(server.callsOf('FirmwareStatusNotification').length);
    expect(report.stats.actions.LogStatusNotification?.count).toBe(server.callsOf('LogStatusNotification').length);
    expect(report.stats.versions?.['ocpp2.0.1']?.calls.FirmwareStatusNotification).toBe(server.callsOf('FirmwareStatusNotification').length);
    expect(server.callsOf('FirmwareStatusNotification').length).toBeGreaterThanOrEqual(16);
  }, 120_000);
});
