/**
 * The embedded central system answers a 2.0.1 station's ReservationStatusUpdate (H04), so an
 * agent whose reservation expires gets a schema-valid answer rather than NotImplemented.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { CentralSystem } from '../../src/csms/central-system.js';
import { createLog, MemorySink } from '../../src/lib/log.js';

describe('the embedded central system on 2.0.1: ReservationStatusUpdate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-csms201-resv-'));
  let csms: CentralSystem | undefined;
  let client: RPCClient | undefined;
  afterEach(async () => {
    await client?.close({ force: true });
    await csms?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers Expired and Removed with an empty response and records the call', async () => {
    const sink = new MemorySink('info');
    csms = new CentralSystem({ port: 0, dbPath: join(dir, 'csms.db'), log: createLog(sink) });
    const calls: { action: string; params: unknown }[] = [];
    csms.on('call', (c) => calls.push(c as (typeof calls)[number]));
    const url = `ws://127.0.0.1:${await csms.listen()}/ocpp`;
    client = new RPCClient({ endpoint: url, identity: 'CS-RESV-1', protocols: ['ocpp2.0.1'], strictMode: true, reconnect: false });
    await client.connect();
    const boot = await client.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } }) as { status: string };
    expect(boot.status).toBe('Accepted');
    expect(await client.call('ReservationStatusUpdate', { reservationId: 7, reservationUpdateStatus: 'Expired' })).toEqual({});
    expect(await client.call('ReservationStatusUpdate', { reservationId: 8, reservationUpdateStatus: 'Removed' })).toEqual({});
    expect(calls.filter((c) => c.action === 'ReservationStatusUpdate').map((c) => c.params)).toEqual([
      { reservationId: 7, reservationUpdateStatus: 'Expired' }, { reservationId: 8, reservationUpdateStatus: 'Removed' },
    ]);
    expect(sink.records.some((r) => r.msg === 'reservation status' && r.reservationId === 7)).toBe(true);
  });
});
