/**
 * The OCPP 1.6 binding's side of the core's vocabulary: the policy read live from the keys, and
 * the mapping of stop reasons, statuses, error codes and IdTagInfo (pure logic, no sockets).
 */
import { describe, expect, it } from 'vitest';
import type { EvseCondition, StationCondition, StopReason } from '../../src/core/ports.js';
import type { Settings } from '../../src/ocpp/v16/store-ports.js';
import { fromV16IdTagInfo, toV16ErrorCode, toV16Reason, toV16Status, V16StatusChanges, v16StatusOf } from '../../src/ocpp/v16/mapping.js';
import { MAX_ID_TAG_CHARS, policyFromSettings } from '../../src/ocpp/v16/policy.js';

function settingsOf(values: Record<string, string>): Settings {
  return {
    int: (k) => Number.parseInt(values[k] ?? '', 10) || 0,
    bool: (k) => (values[k] ?? '').toLowerCase() === 'true',
    list: (k) => (values[k] ?? '').split(',').filter(Boolean),
  };
}

describe('policyFromSettings', () => {
  it('reads each key at each decision: a changed value takes effect at once', () => {
    const values: Record<string, string> = {
      StopTransactionOnInvalidId: 'true', MaxEnergyOnInvalidId: '0', ConnectionTimeOut: '60', MeterValuesSampledData: 'Energy.Active.Import.Register',
      StopTxnSampledData: '', TransactionMessageAttempts: '3', LocalPreAuthorize: 'false',
    };
    const policy = policyFromSettings(settingsOf(values));
    expect(policy.transaction.stopOnInvalidToken).toBe(true);
    expect(policy.transaction.connectionTimeoutS).toBe(60);
    expect(policy.metering.sampledMeasurands).toEqual(['Energy.Active.Import.Register']);
    expect(policy.metering.txEndedMeasurands).toEqual([]);
    expect(policy.authorization.localPreAuthorize).toBe(false);
    expect(policy.retry.attempts).toBe(3);
    // ChangeConfiguration writes the store; the same policy object answers with the new values.
    Object.assign(values, {
      StopTransactionOnInvalidId: 'false', MaxEnergyOnInvalidId: '500', ConnectionTimeOut: '15', MeterValuesSampledData: 'Power.Active.Import,SoC',
      StopTxnSampledData: 'Energy.Active.Import.Register', TransactionMessageAttempts: '5', LocalPreAuthorize: 'true',
    });
    expect(policy.transaction.stopOnInvalidToken).toBe(false);
    expect(policy.transaction.maxEnergyOnInvalidWh).toBe(500);
    expect(policy.transaction.connectionTimeoutS).toBe(15);
    expect(policy.metering.sampledMeasurands).toEqual(['Power.Active.Import', 'SoC']);
    expect(policy.metering.txEndedMeasurands).toEqual(['Energy.Active.Import.Register']);
    expect(policy.authorization.localPreAuthorize).toBe(true);
    expect(policy.retry.attempts).toBe(5);
  });

  it('tells the core that a 1.6 idTag holds at most 20 characters', () => {
    expect(policyFromSettings(settingsOf({})).authorization.maxTokenChars).toBe(MAX_ID_TAG_CHARS);
    expect(MAX_ID_TAG_CHARS).toBe(20);
  });
});

describe('1.6 mapping of the core vocabulary', () => {
  it('sends every 1.6 stop reason verbatim', () => {
    const own: StopReason[] = ['Local', 'EmergencyStop', 'EVDisconnected', 'HardReset', 'PowerLoss', 'Reboot', 'Remote', 'SoftReset', 'UnlockCommand', 'DeAuthorized', 'Other'];
    for (const r of own) expect(toV16Reason(r)).toBe(r);
  });

  it('sends a 2.0.1-only stop reason as its nearest 1.6 one', () => {
    expect(toV16Reason('ImmediateReset')).toBe('HardReset');
    expect(toV16Reason('MasterPass')).toBe('Local');
    for (const r of ['EnergyLimitReached', 'GroundFault', 'LocalOutOfCredit', 'OvercurrentFault', 'PowerQuality', 'SOCLimitReached', 'StoppedByEV', 'TimeLimitReached', 'Timeout'] as const) {
      expect(toV16Reason(r)).toBe('Other');
    }
  });

  it('keeps error code values', () => {
    expect(toV16ErrorCode('PowerMeterFailure')).toBe('PowerMeterFailure');
  });

  // The core keeps availability, charging state, faults and reservations apart; 1.6's nine statuses
  // are derived in 1.6's order of precedence (§4.9).
  type Partial16 = Partial<EvseCondition> & { station?: true };
  const cond = ({ station, ...o }: Partial16): EvseCondition | StationCondition => {
    const base = { availability: 'Operative', chargingState: 'Idle', faulted: false, reserved: false, at: 0 } as const;
    return station ? { station, ...base, ...o } : { evseId: 1, connectorId: 1, ...base, ...o };
  };
  it.each<[string, Partial16, string]>([
    ['nothing at the connector', {}, 'Available'],
    ['a token waiting for a vehicle', { chargingState: 'Authorized' }, 'Preparing'],
    ['a vehicle plugged, no session', { chargingState: 'EVConnected' }, 'Preparing'],
    ['charging', { chargingState: 'Charging' }, 'Charging'],
    ['paused by the vehicle', { chargingState: 'SuspendedEV' }, 'SuspendedEV'],
    ['paused by the charger', { chargingState: 'SuspendedEVSE' }, 'SuspendedEVSE'],
    ['the session ended, still plugged', { chargingState: 'Finishing' }, 'Finishing'],
    ['reserved', { reserved: true }, 'Reserved'],
    ['reserved, a vehicle plugged', { reserved: true, chargingState: 'EVConnected' }, 'Reserved'],
    ['inoperative', { availability: 'Inoperative' }, 'Unavailable'],
    ['inoperative and reserved', { availability: 'Inoperative', reserved: true }, 'Unavailable'],
    ['inoperative scheduled during a session', { chargingState: 'Charging', scheduledAvailability: 'Inoperative' }, 'Charging'],
    ['a session on a connector made inoperative', { availability: 'Inoperative', chargingState: 'SuspendedEV' }, 'SuspendedEV'],
    ['faulted while charging', { faulted: true, chargingState: 'Charging', fault: { errorCode: 'PowerMeterFailure' } }, 'Faulted'],
    ['faulted and inoperative', { faulted: true, availability: 'Inoperative' }, 'Faulted'],
    ['a fault that does not stop it (the station\'s reader)', { station: true, fault: { errorCode: 'ReaderFailure' } }, 'Available'],
  ])('derives the 1.6 status: %s', (_name, o, status) => {
    expect(toV16Status(cond(o))).toBe(status);
  });

  it('says the fault as errorCode and info, NoError without one', () => {
    expect(v16StatusOf(cond({ faulted: true, fault: { errorCode: 'OtherError', info: 'EVSE board error' }, at: 5 })))
      .toEqual({ connectorId: 1, status: 'Faulted', errorCode: 'OtherError', info: 'EVSE board error', at: 5 });
    expect(v16StatusOf(cond({})).errorCode).toBe('NoError');
  });

  it('counts a status event when its 1.6 status or errorCode changed, per connector', () => {
    const changes = new V16StatusChanges();
    expect(changes.changed(cond({}))).toBe(true);
    expect(changes.changed(cond({ scheduledAvailability: 'Inoperative' }))).toBe(false);
    expect(changes.changed(cond({ evseId: 2 }))).toBe(true);
    expect(changes.changed(cond({ chargingState: 'Authorized' }))).toBe(true);
    expect(changes.changed(cond({ chargingState: 'EVConnected' }))).toBe(false);
    expect(changes.changed(cond({ chargingState: 'EVConnected', faulted: true, fault: { errorCode: 'PowerMeterFailure' } }))).toBe(true);
    expect(changes.changed(cond({ chargingState: 'Charging', faulted: true, fault: { errorCode: 'PowerMeterFailure', info: 'other words' } }))).toBe(false);
    expect(changes.changed(cond({ chargingState: 'Charging', faulted: true, fault: { errorCode: 'OtherError' } }))).toBe(true);
  });

  it('reads parentIdTag as the token group, and adds nothing 1.6 did not say', () => {
    expect(fromV16IdTagInfo({ status: 'Accepted', parentIdTag: 'FLEET', expiryDate: '2026-01-01T00:00:00.000Z' }))
      .toEqual({ status: 'Accepted', groupId: 'FLEET', expiryDate: '2026-01-01T00:00:00.000Z' });
    expect(fromV16IdTagInfo({ status: 'Blocked' })).toEqual({ status: 'Blocked' });
  });
});
