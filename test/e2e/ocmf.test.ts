/**
 * Calibration law end to end (issue 20): an agent with a simulated signing meter is killed -9
 * mid-session; at restart it closes the session with the meter's signed end value (TX L, after
 * a power loss), which the central system verifies against MeterPublicKey[1]. The ledger keeps
 * every signed record; `sessions export` carries them, and `ocmf verify` accepts the export and
 * rejects it with one changed digit (exit 1); input that is not OCMF exits 2.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOcmf, verifyOcmf } from '../../src/lib/ocmf.js';
import { ChildAgent } from '../helpers/child-agent.js';
import { runCli } from '../helpers/cli.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CP = 'CP-OCMF-1';

/** The OCMF records of the SignedData values in a MeterValue list, by context. */
function signedRecords(meterValue: any[] | undefined): { context: string; ocmf: string; publicKey: string }[] {
  return (meterValue ?? []).flatMap((mv) => mv.sampledValue).filter((sv: any) => sv.format === 'SignedData').map((sv: any) => {
    const v = JSON.parse(sv.value);
    return { context: sv.context, ocmf: Buffer.from(v.signedMeterData, 'base64').toString('utf8'), publicKey: v.publicKey };
  });
}

describe('signed meter values through a power loss, the ledger and the export', () => {
  it('kill -9 mid-session: closed at restart with the meter\'s signed end value; the export verifies, a changed digit does not', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    const child = new ChildAgent({
      url, chargePointId: CP,
      ocpp: { MeterValueSampleInterval: 1, TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1 },
      session: { meterPollIntervalMs: 100, checkpointIntervalMs: 1000 },
      simulation: { arrivalDelayMs: 30, seed: 7, signedMeters: true },
    });
    try {
      child.start();
      await waitFor(() => csms.clients.has(CP) && csms.callsOf('StatusNotification').length >= 3, 20_000, 'boot');
      const keyHex = (await csms.call(CP, 'GetConfiguration', { key: ['MeterPublicKey[1]'] })).configurationKey[0].value as string;
      expect(keyHex).toMatch(/^[0-9A-F]{100,}$/);
      await csms.call(CP, 'RemoteStartTransaction', { idTag: 'APP-OCMF', connectorId: 1 });
      const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 15_000, 'StartTransaction');
      await waitFor(() => csms.callsOf('MeterValues').length >= 3, 15_000, 'three MeterValues');
      await child.kill9();

      child.start();
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 20_000, 'StopTransaction after the restart');
      expect(stop.params.reason).toBe('PowerLoss');
      // The same meter (its key kept beside the store) signed the end after the power loss.
      const keyAfter = (await waitFor(async () => (csms.clients.has(CP) ? await csms.call(CP, 'GetConfiguration', { key: ['MeterPublicKey[1]'] }) : undefined), 10_000, 'reconnected')).configurationKey[0].value;
      expect(keyAfter).toBe(keyHex);
      const records = signedRecords(stop.params.transactionData);
      const end = records.find((r) => r.context === 'Transaction.End')!;
      const begin = records.find((r) => r.context === 'Transaction.Begin')!;
      expect(verifyOcmf(end.ocmf, keyHex).valid).toBe(true);
      expect(verifyOcmf(begin.ocmf, keyHex).valid).toBe(true);
      const endReading = parseOcmf(end.ocmf).payload.RD[0]!;
      expect(endReading.TX).toBe('L');
      // The meter's pagination counts on across the restart (kept beside the store).
      expect(Number(parseOcmf(end.ocmf).payload.PG.slice(1))).toBeGreaterThan(Number(parseOcmf(begin.ocmf).payload.PG.slice(1)));
      expect(Math.round(endReading.RV * 1000)).toBe(stop.params.meterStop);
      expect(Math.round(parseOcmf(begin.ocmf).payload.RD[0]!.RV * 1000)).toBe(start.params.meterStart);
      expect(stop.params.meterStop).toBeGreaterThan(start.params.meterStart);
      await waitFor(() => child.currentLogs().some((l) => l.msg === 'session left open by the last run closed (PowerLoss)'), 5_000, 'the PowerLoss close logged');
      expect(csms.validationFailures).toEqual([]);
      await child.stop();

      // The export carries the session's signed records; ocmf verify accepts it.
      const exportFile = join(child.dir, 'export.json');
      const exported = await runCli(['sessions', 'export', '--config', child.configFile, '--out', exportFile]);
      expect(exported.code, exported.err).toBe(0);
      const sessions = JSON.parse(readFileSync(exportFile, 'utf8'));
      expect(sessions).toHaveLength(1);
      expect(sessions[0].signedMeterValues.map((v: any) => parseOcmf(v.data).payload.RD[0]!.TX)).toEqual(['B', 'L']);
      expect(sessions[0].energyWh).toBe(stop.params.meterStop - start.params.meterStart);
      const ok = await runCli(['ocmf', 'verify', exportFile]);
      expect(ok.code, ok.out + ok.err).toBe(0);
      expect(ok.out).toMatch(/all 2 record\(s\) valid/);

      // One changed digit in the end value: exit 1, the record named.
      const tampered = join(child.dir, 'tampered.json');
      const rv = String(endReading.RV);
      const forged = rv.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 1) % 10));
      writeFileSync(tampered, readFileSync(exportFile, 'utf8').replace(`"RV\\":${rv}`, `"RV\\":${forged}`));
      expect(readFileSync(tampered, 'utf8')).not.toBe(readFileSync(exportFile, 'utf8'));
      const bad = await runCli(['ocmf', 'verify', tampered]);
      expect(bad.code, bad.out + bad.err).toBe(1);
      expect(bad.out).toMatch(/INVALID session .* #2 \(Transaction.End\)/);

      // One record with its key given apart; then input that is no OCMF, and a key that is none.
      const recordFile = join(child.dir, 'record.txt');
      writeFileSync(recordFile, end.ocmf + '\n');
      expect((await runCli(['ocmf', 'verify', recordFile, '--key', keyHex])).code).toBe(0);
      const noKey = await runCli(['ocmf', 'verify', recordFile]);
      expect(noKey.code).toBe(2);
      expect(noKey.err).toMatch(/no public key/);
      writeFileSync(join(child.dir, 'junk.txt'), 'OCMF|{not json|{}');
      const junk = await runCli(['ocmf', 'verify', join(child.dir, 'junk.txt'), '--key', keyHex]);
      expect(junk.code).toBe(2);
      expect(junk.err).toMatch(/payload section is not JSON/);
      expect((await runCli(['ocmf', 'verify', recordFile, '--key', 'zz-not-a-key'])).code).toBe(2);
    } finally {
      await child.cleanup();
      await csms.stop();
    }
  }, 120_000);
});
