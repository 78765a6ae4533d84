/**
 * The OCPP 1.6 binding's side of the core's vocabulary: the policy read live from the keys, and
 * the mapping of stop reasons, statuses, error codes and IdTagInfo (pure logic, no sockets).
 */
import { describe, expect, it } from 'vitest';
import type { Settings, StopReason } from '../../src/core/ports.js';
import { fromV16IdTagInfo, toV16ErrorCode, toV16Reason, toV16Status } from '../../src/ocpp/v16/mapping.js';
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

  it('keeps status and error code values', () => {
    expect(toV16Status('SuspendedEVSE')).toBe('SuspendedEVSE');
    expect(toV16ErrorCode('PowerMeterFailure')).toBe('PowerMeterFailure');
  });

  it('reads parentIdTag as the token group, and adds nothing 1.6 did not say', () => {
    expect(fromV16IdTagInfo({ status: 'Accepted', parentIdTag: 'FLEET', expiryDate: '2026-01-01T00:00:00.000Z' }))
      .toEqual({ status: 'Accepted', groupId: 'FLEET', expiryDate: '2026-01-01T00:00:00.000Z' });
    expect(fromV16IdTagInfo({ status: 'Blocked' })).toEqual({ status: 'Blocked' });
  });
});
