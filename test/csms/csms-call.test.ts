import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildAgent } from '../helpers/child-agent.js';
import { CliProcess, logLines, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mosquitto.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('evse-edge csms drives a connected charger (csms call) and logs what happens', () => {
  it('RemoteStart, meter values, TriggerMessage, RemoteStop from another terminal; connect, boot, start, stop logged at info', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-csms-call-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [port, controlPort] = [await freePort(), await freePort()];
    const csms = new CliProcess(['csms', '--port', String(port), '--control-port', String(controlPort), '--db', join(dir, 'csms.db'), '--id-tag', 'TAG-CALL-1']);
    cleanups.push(() => csms.stop('SIGKILL'));
    const log = () => logLines(csms.out);
    const listening = await csms.waitFor(() => log().find((l) => l.msg === 'control endpoint listening'), 30_000, 'the control endpoint');
    expect(listening.url).toBe(`http://127.0.0.1:${controlPort}`);

    const agent = new ChildAgent({ url: `ws://127.0.0.1:${port}/ocpp`, chargePointId: 'CP-CALL-1', dir: join(dir, 'agent') });
    cleanups.push(() => agent.cleanup());
    agent.start();
    await csms.waitFor(() => log().find((l) => l.msg === 'charge point connected' && l.cp === 'CP-CALL-1'), 30_000, 'connected');
    await csms.waitFor(() => log().find((l) => l.msg === 'boot' && l.cp === 'CP-CALL-1' && l.status === 'Accepted'), 30_000, 'boot');

    const control = ['--control', `http://127.0.0.1:${controlPort}`];
    const start = await runCli(['csms', 'call', 'CP-CALL-1', 'RemoteStartTransaction', '{"idTag":"TAG-CALL-1","connectorId":1}', ...control]);
    expect(start.code, start.err).toBe(0);
    expect(JSON.parse(start.out)).toEqual({ status: 'Accepted' });
    const started = await csms.waitFor(() => log().find((l) => l.msg === 'transaction started' && l.cp === 'CP-CALL-1'), 30_000, 'transaction started');
    expect(started).toMatchObject({ connectorId: 1, transactionId: expect.any(Number) });
    // idTags appear only as pseudonyms in the log.
    expect(csms.out).not.toContain('TAG-CALL-1');
    // Meter values arrive while it charges (recorded in the csms database, read by another process).
    const db = join(dir, 'csms.db');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = JSON.parse((await runCli(['csms', 'sessions', '--db', db, '--json'])).out) as { transactionId: number; meterValueCount: number }[];
      if ((rows.find((r) => r.transactionId === started.transactionId)?.meterValueCount ?? 0) >= 2) break;
      if (Date.now() > deadline) throw new Error('no meter values recorded');
      await new Promise((r) => setTimeout(r, 200));
    }

    const trigger = await runCli(['csms', 'call', 'CP-CALL-1', 'TriggerMessage', '{"requestedMessage":"StatusNotification","connectorId":1}', ...control]);
    expect(trigger.code, trigger.err).toBe(0);
    expect(JSON.parse(trigger.out)).toEqual({ status: 'Accepted' });

    const stop = await runCli(['csms', 'call', 'CP-CALL-1', 'RemoteStopTransaction', JSON.stringify({ transactionId: started.transactionId }), ...control]);
    expect(stop.code, stop.err).toBe(0);
    expect(JSON.parse(stop.out)).toEqual({ status: 'Accepted' });
    const stopped = await csms.waitFor(() => log().find((l) => l.msg === 'transaction stopped' && l.transactionId === started.transactionId), 30_000, 'transaction stopped');
    expect(stopped).toMatchObject({ cp: 'CP-CALL-1', reason: 'Remote', energyWh: expect.any(Number) });
    expect(stopped.energyWh as number).toBeGreaterThan(0);

    // A charger that is not connected: a clear error, exit 1.
    const absent = await runCli(['csms', 'call', 'CP-NOT-HERE', 'Reset', '{"type":"Soft"}', ...control]);
    expect(absent.code).toBe(1);
    expect(absent.err).toMatch(/CP-NOT-HERE is not connected/);
    // Usage: bad JSON, an unknown action, a missing argument, a payload the OCPP schema refuses: exit 2.
    for (const args of [
      ['CP-CALL-1', 'Reset', '{type:Soft}'],
      ['CP-CALL-1', 'Reboot', '{}'],
      ['CP-CALL-1'],
      ['CP-CALL-1', 'Reset', '{"type":"Sideways"}'],
    ]) {
      const bad = await runCli(['csms', 'call', ...args, ...control]);
      expect(bad.code, `${args.join(' ')}: ${bad.err}`).toBe(2);
      expect(bad.err.length).toBeGreaterThan(0);
    }
    // The central system is not running there: exit 1, saying so.
    const nobody = await runCli(['csms', 'call', 'CP-CALL-1', 'Reset', '{"type":"Soft"}', '--control', `http://127.0.0.1:${await freePort()}`]);
    expect(nobody.code).toBe(1);
    expect(nobody.err).toMatch(/no central system/);

    await agent.stop();
    await csms.waitFor(() => log().find((l) => l.msg === 'charge point disconnected' && l.cp === 'CP-CALL-1'), 30_000, 'disconnected');
    expect((await csms.stop('SIGINT')).code).toBe(0);
  });
});
