/**
 * Who may charge: the core's authorisation decisions as a plugged-in driver sees them (a session
 * or a refusal, and who decided), the central system's late verdict, and tags that stop a
 * session of their group.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IdTagInfo } from './harness.js';
import { charging, harness, refOf, T0, type Harness, type SettingValue } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

const PAST = new Date(T0 - 60_000).toISOString();
const FUTURE = new Date(T0 + 86_400_000).toISOString();
const ACCEPTED: IdTagInfo = { status: 'Accepted' };

interface Row {
  name: string;
  online: boolean;
  settings?: Record<string, SettingValue>;
  list?: IdTagInfo;
  cache?: IdTagInfo;
  /** The central system's answer to Authorize (undefined: Invalid; null: no answer). */
  csms?: IdTagInfo | null;
  /** Expected: a session started, or a refusal with its status and who decided. */
  outcome: 'started' | { status: string; source: string };
  asked: boolean;
}

const rows: Row[] = [
  { name: 'online: the central system accepts', online: true, csms: ACCEPTED, outcome: 'started', asked: true },
  { name: 'online: the central system blocks', online: true, csms: { status: 'Blocked' }, outcome: { status: 'Blocked', source: 'csms' }, asked: true },
  { name: 'online: the central system\'s word beats an Accepted list entry (no LocalPreAuthorize)', online: true, list: ACCEPTED, csms: { status: 'Invalid' }, outcome: { status: 'Invalid', source: 'csms' }, asked: true },
  { name: 'online, LocalPreAuthorize: a listed tag starts without asking', online: true, settings: { LocalPreAuthorize: true }, list: ACCEPTED, outcome: 'started', asked: false },
  { name: 'online, LocalPreAuthorize: a cached tag starts without asking', online: true, settings: { LocalPreAuthorize: true }, cache: ACCEPTED, outcome: 'started', asked: false },
  { name: 'online, LocalPreAuthorize: an expired cache entry is asked about', online: true, settings: { LocalPreAuthorize: true }, cache: { status: 'Accepted', expiryDate: PAST }, csms: ACCEPTED, outcome: 'started', asked: true },
  { name: 'online, LocalPreAuthorize, cache disabled: the cached tag is asked about', online: true, settings: { LocalPreAuthorize: true, AuthorizationCacheEnabled: false }, cache: ACCEPTED, csms: { status: 'Blocked' }, outcome: { status: 'Blocked', source: 'csms' }, asked: true },
  { name: 'online but no answer: decided as offline (listed tag starts)', online: true, list: ACCEPTED, csms: null, outcome: 'started', asked: true },
  { name: 'online but no answer, unknown tag: refused', online: true, csms: null, outcome: { status: 'Invalid', source: 'none' }, asked: true },
  { name: 'offline: a listed tag starts (LocalAuthorizeOffline)', online: false, list: { status: 'Accepted', expiryDate: FUTURE }, outcome: 'started', asked: false },
  { name: 'offline: a cached tag starts', online: false, cache: ACCEPTED, outcome: 'started', asked: false },
  { name: 'offline: the list beats the cache (Blocked in the list)', online: false, list: { status: 'Blocked' }, cache: ACCEPTED, outcome: { status: 'Blocked', source: 'local-list' }, asked: false },
  { name: 'offline: an expired list entry is refused as Expired', online: false, list: { status: 'Accepted', expiryDate: PAST }, outcome: { status: 'Expired', source: 'local-list' }, asked: false },
  { name: 'offline: a listed tag with LocalAuthorizeOffline false is refused', online: false, settings: { LocalAuthorizeOffline: false }, list: ACCEPTED, outcome: { status: 'Invalid', source: 'none' }, asked: false },
  { name: 'offline: the list is not read when LocalAuthListEnabled is false', online: false, settings: { LocalAuthListEnabled: false }, list: ACCEPTED, outcome: { status: 'Invalid', source: 'none' }, asked: false },
  { name: 'offline: the cache is not read when AuthorizationCacheEnabled is false', online: false, settings: { AuthorizationCacheEnabled: false }, cache: ACCEPTED, outcome: { status: 'Invalid', source: 'none' }, asked: false },
  { name: 'offline: an unknown tag with AllowOfflineTxForUnknownId starts', online: false, settings: { AllowOfflineTxForUnknownId: true }, outcome: 'started', asked: false },
  { name: 'offline: an unknown tag without AllowOfflineTxForUnknownId is refused', online: false, outcome: { status: 'Invalid', source: 'none' }, asked: false },
  { name: 'offline: a Blocked cached tag is refused even with AllowOfflineTxForUnknownId', online: false, settings: { AllowOfflineTxForUnknownId: true }, cache: { status: 'Blocked' }, outcome: { status: 'Blocked', source: 'cache' }, asked: false },
];

describe('authorisation of a presented tag (plugged in first)', () => {
  it.each(rows)('$name', async (row) => {
    h = await harness({
      online: row.online, settings: row.settings,
      ...(row.list ? { localList: { 'TAG-A': row.list } } : {}),
      ...(row.cache ? { cache: { 'TAG-A': row.cache } } : {}),
      ...(row.csms !== undefined ? { csms: { 'TAG-A': row.csms } } : {}),
    });
    await h.plug();
    await h.present('TAG-A');
    expect(h.remote.asked).toEqual(row.asked ? ['TAG-A'] : []);
    if (row.outcome === 'started') {
      expect(h.session()).toMatchObject({ idTag: 'TAG-A', customerRef: refOf('TAG-A'), stoppedAt: null });
      expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging']);
      expect(h.refused).toEqual([]);
    } else {
      expect(h.ledger.records()).toEqual([]);
      expect(h.refused).toEqual([{ evseId: 1, customerRef: refOf('TAG-A'), ...row.outcome }]);
      expect(h.statuses()).toEqual(['Available', 'Preparing']);
    }
  });
});

describe('the cache', () => {
  it('an Authorize answer is cached whole, and used offline later', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted', expiryDate: FUTURE, parentIdTag: 'FLEET' } } });
    await h.present('TAG-A');
    expect(h.authData.cache.get('TAG-A')).toEqual({ status: 'Accepted', expiryDate: FUTURE, groupId: 'FLEET' });
  });

  it('no answer is cached when the cache is disabled', async () => {
    h = await harness({ settings: { AuthorizationCacheEnabled: false }, csms: { 'TAG-A': ACCEPTED } });
    await h.present('TAG-A');
    expect(h.authData.cache.size).toBe(0);
  });

  it('a transaction verdict keeps the cached expiry and group when it names none', async () => {
    h = await charging({ info: { status: 'Accepted', expiryDate: FUTURE, parentIdTag: 'FLEET' } });
    await h.confirmStart(h.session().localId, 1, { status: 'Accepted' });
    expect(h.authData.cache.get('TAG-A')).toEqual({ status: 'Accepted', expiryDate: FUTURE, groupId: 'FLEET' });
  });
});

describe('a late rejection (StartTransaction.conf not Accepted)', () => {
  it('StopTransactionOnInvalidId: the session stops (DeAuthorized) and the cache learns the tag is Invalid', async () => {
    h = await charging({ online: false, settings: { AllowOfflineTxForUnknownId: true } });
    const { localId } = h.session();
    await h.confirmStart(localId, 5, { status: 'Invalid' });
    expect(h.session()).toMatchObject({ stopReason: 'DeAuthorized', transactionId: 5 });
    expect(h.authData.cache.get('TAG-A')).toEqual({ status: 'Invalid' });
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging', 'Finishing']);
  });

  it('StopTransactionOnInvalidId false, MaxEnergyOnInvalidId 500: delivery stops once 500 Wh are delivered; the session stays open', async () => {
    h = await charging({ online: false, settings: { AllowOfflineTxForUnknownId: true, StopTransactionOnInvalidId: false, MaxEnergyOnInvalidId: 500 } });
    h.connector().meter.draw(11_000);
    await h.confirmStart(h.session().localId, 5, { status: 'Blocked' });
    // 500 Wh at 11 kW: 163.6 s; the meter is read every second.
    await h.advance(163_000);
    expect(h.status()).toBe('Charging');
    await h.advance(1_000);
    expect(h.status()).toBe('SuspendedEVSE');
    expect(h.offers()).toEqual([[32, false], [0, false]]);
    expect(h.session().stopReason).toBeNull();
    expect(h.liveSession(1)!.energyWh).toBeCloseTo(501.1, 1);
    // It stays suspended: later limits do not offer again.
    await h.advance(600_000);
    expect(h.offers()).toEqual([[32, false], [0, false]]);
  });

  it('StopTransactionOnInvalidId false, MaxEnergyOnInvalidId 0: delivery stops at once', async () => {
    h = await charging({ online: false, settings: { AllowOfflineTxForUnknownId: true, StopTransactionOnInvalidId: false, MaxEnergyOnInvalidId: 0 } });
    await h.confirmStart(h.session().localId, 5, { status: 'Invalid' });
    expect(h.status()).toBe('SuspendedEVSE');
    expect(h.session().stopReason).toBeNull();
  });

  it('an Accepted verdict changes nothing', async () => {
    h = await charging();
    await h.confirmStart(h.session().localId, 5, ACCEPTED);
    expect(h.status()).toBe('Charging');
    expect(h.offers()).toEqual([[32, false]]);
  });
});

describe('tags that stop a session', () => {
  it('a second tag of the same group (parentIdTag) stops the session; its tag goes with the stop', async () => {
    h = await charging({ info: { status: 'Accepted', parentIdTag: 'FLEET' }, csms: { 'TAG-B': { status: 'Accepted', parentIdTag: 'FLEET' } } });
    expect(await h.presentFor('TAG-B')).toBe('stopped');
    expect(h.session().stopReason).toBe('Local');
    const stop = h.ledger.queued('stop')[0]!.body as { idTag?: string };
    expect(stop.idTag).toBe('TAG-B');
  });

  it('a ConcurrentTx answer for a tag of the group still stops it (the group is in a transaction)', async () => {
    h = await charging({ info: { status: 'Accepted', parentIdTag: 'FLEET' }, csms: { 'TAG-B': { status: 'ConcurrentTx', parentIdTag: 'FLEET' } } });
    expect(await h.presentFor('TAG-B')).toBe('stopped');
  });

  it('a tag of another group does not stop it', async () => {
    h = await charging({ info: { status: 'Accepted', parentIdTag: 'FLEET' }, csms: { 'TAG-B': { status: 'Accepted', parentIdTag: 'OTHER' } } });
    expect(await h.presentFor('TAG-B')).toBe('ignored');
    expect(h.session().stopReason).toBeNull();
  });

  it('a Blocked tag of the same group does not stop it', async () => {
    h = await charging({ info: { status: 'Accepted', parentIdTag: 'FLEET' }, csms: { 'TAG-B': { status: 'Blocked', parentIdTag: 'FLEET' } } });
    await h.presentFor('TAG-B');
    expect(h.session().stopReason).toBeNull();
  });

  it('the group of a remotely started session comes from the local list', async () => {
    h = await harness({ localList: { 'TAG-R': { status: 'Accepted', parentIdTag: 'FLEET' } }, csms: { 'TAG-B': { status: 'Accepted', parentIdTag: 'FLEET' } } });
    await h.remoteStart('TAG-R', 1);
    await h.plug();
    expect(await h.presentFor('TAG-B')).toBe('stopped');
  });

  it('stopOnSecondPresentation false: the same tag again does not stop its session, and nothing is asked', async () => {
    h = await charging({ stopOnSecondPresentation: false });
    expect(await h.presentFor('TAG-A')).toBe('ignored');
    expect(h.session().stopReason).toBeNull();
    expect(h.remote.asked).toEqual(['TAG-A']);
  });

  it('with two connectors, a tag at one connector\'s reader stops only a session there', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': ACCEPTED } });
    await h.plug(1);
    await h.present('TAG-A', { connectorId: 1 });
    expect(await h.presentFor('TAG-A', 2)).not.toBe('stopped');
    expect(h.session(1).stopReason).toBeNull();
    expect(await h.presentFor('TAG-A', 1)).toBe('stopped');
  });

  // A card held at the reader read twice while the first Authorize is on its way: both
  // decisions come back Accepted while the first start reads the meter.
  it('a card read twice while its authorisation is on its way opens one session only', async () => {
    h = await harness({ csms: { 'TAG-A': ACCEPTED } });
    h.remote.hold();
    await h.plug();
    await h.present('TAG-A');
    await h.present('TAG-A');
    h.remote.release();
    await h.advance(0);
    expect(h.ledger.records()).toHaveLength(1);
    expect(h.ledger.queued('start')).toHaveLength(1);
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging']);
  });

  it('a RemoteStart while a local start reads the meter is refused', async () => {
    h = await harness({ csms: { 'TAG-A': ACCEPTED } });
    await h.plug();
    h.connector().meter.hold();
    await h.present('TAG-A');
    expect(h.connector().meter.reads).toBe(1);
    expect(await h.remoteStart('TAG-R', 1)).toBe(false);
    h.connector().meter.release();
    await h.advance(0);
    expect(h.ledger.records().map((r) => r.idTag)).toEqual(['TAG-A']);
    expect(h.status()).toBe('Charging');
  });
});
