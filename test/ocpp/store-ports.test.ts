import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample } from '../../src/core/ports.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import type * as v16 from '../../src/ocpp/v16/store-ports.js';
import * as render from '../../src/ocpp/v16/transaction-messages.js';
import * as store from '../../src/store/index.js';
import { SqliteSecurityEvents, type SecurityEventPayload } from '../../src/store/security-events.js';

// src/ocpp/v16 never imports the store: it declares the ports it needs (store-ports.ts). Here, where
// both may be imported, the compiler checks that the store's payload shapes are the ones the link
// reads back, and the test below that a real store's rows parse as the link expects them.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const shapesAgree: [
  Same<store.SessionOpenedEvent, render.OpenedBody>, Same<store.SessionSampledEvent, render.SampledBody>, Same<store.SessionClosedEvent, render.ClosedBody>,
  Same<SecurityEventPayload, render.SecurityBody>, Same<store.LocalListEntry, v16.LocalListEntry>, Same<store.TransactionRef, v16.TransactionRef>,
] = [true, true, true, true, true, true];

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const sample = (takenAt: number, energyWh: number, context: Sample['context']): Sample =>
  ({ takenAt, clockTrusted: true, context, reading: { takenAt, energyWh, powerW: 7_000 }, measurands: ['Energy.Active.Import.Register'] });

describe('the store behind the OCPP 1.6 ports', () => {
  it('queues start, meter, stop and security messages the 1.6 link reads back as its payloads', () => {
    expect(shapesAgree).toEqual([true, true, true, true, true, true]);
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-ports-'));
    dirs.push(dir);
    const db = store.openDatabase(join(dir, 'agent.db'), { log: createLog(new MemorySink()) });
    const cp = 'CP-PORTS';
    // The store's views, as the link is given them (src/app/charger composes the same way).
    const sqliteLedger = new store.SqliteLedger(db, cp, (t) => `ref-${t}`);
    const ledger: v16.TransactionRefs = sqliteLedger;
    const outbox: v16.EventQueue = new store.SqliteOutbox(db, cp);
    const settings: v16.ConfigurationStore = new store.SqliteSettings(db, cp, new Map([['HeartbeatInterval', '300']]));
    const authData: v16.AuthorizationStore = new store.SqliteAuthorizationData(db, cp, () => 1_000);

    const t0 = Date.UTC(2026, 0, 5, 8);
    const s = sqliteLedger.open({ evseId: 2, idTag: 'TAG-1', authMethod: 'rfid', startedAt: t0, clockTrusted: true, meterStartWh: 1_000, reservationId: 7, begin: sample(t0, 1_000, 'Transaction.Begin') });
    sqliteLedger.sample(s.localId, sample(t0 + 60_000, 1_100, 'Sample.Periodic'), true);
    sqliteLedger.close(s.localId, {
      stoppedAt: t0 + 120_000, clockTrusted: true, meterStopWh: 1_250, reason: 'Local', idTag: 'TAG-1',
      end: sample(t0 + 120_000, 1_250, 'Transaction.End'), transactionDataMeasurands: ['Energy.Active.Import.Register'],
    });
    new SqliteSecurityEvents(db, cp).record({ type: 'SettingSystemTime', timestamp: t0 + 130_000, clockTrusted: true, techInfo: 'set' });

    const [start, meter, stop, security] = outbox.head(10);
    expect([start?.kind, meter?.kind, stop?.kind, security?.kind]).toEqual(['start', 'meter', 'stop', 'security']);
    expect([start, meter, stop, security].map((e) => e?.format)).toEqual([render.KNOWN_FORMAT, render.KNOWN_FORMAT, render.KNOWN_FORMAT, render.KNOWN_FORMAT]);
    expect(render.opened(start!)).toEqual({ connectorId: 2, idTag: 'TAG-1', meterStartWh: 1_000, timestamp: t0, clockTrusted: true, reservationId: 7 });
    const m = render.sampled(meter!);
    expect(m).toMatchObject({ connectorId: 2, sample: { takenAt: t0 + 60_000, context: 'Sample.Periodic', reading: { energyWh: 1_100 } } });
    const p = render.closed(stop!);
    expect(p).toMatchObject({ idTag: 'TAG-1', meterStopWh: 1_250, timestamp: t0 + 120_000, clockTrusted: true, reason: 'Local' });
    expect(p.transactionData.map((x) => [x.context, x.reading.energyWh])).toEqual([['Transaction.Begin', 1_000], ['Transaction.End', 1_250]]);
    expect(render.security(security!)).toEqual({ type: 'SettingSystemTime', timestamp: t0 + 130_000, clockTrusted: true, techInfo: 'set' });

    // What the link records once the central system answered.
    expect(ledger.transactionRefOf(s.localId)).toBeNull();
    const ref = { version: render.OCPP16, id: '4711' };
    outbox.ack(start!.seq, t0 + 200_000, () => ledger.confirmStart(s.localId, ref, t0 + 200_000));
    expect(ledger.transactionRefOf(s.localId)).toEqual(ref);
    expect(render.transactionIdOf(ledger.transactionRefOf(s.localId))).toBe(4711);
    expect(ledger.byTransactionRef(ref)?.localId).toBe(s.localId);
    expect(outbox.head(1)[0]?.seq).toBe(meter!.seq);

    settings.set('HeartbeatInterval', '60');
    expect([settings.get('HeartbeatInterval'), settings.int('HeartbeatInterval')]).toEqual(['60', 60]);
    authData.updateLocalList(3, 'Full', [{ idTag: 'TAG-2', info: { status: 'Accepted' } }]);
    expect([authData.localListVersion(), authData.localListSize(), authData.localListEntry('TAG-2')?.status]).toEqual([3, 1, 'Accepted']);
    db.close();
  });
});
