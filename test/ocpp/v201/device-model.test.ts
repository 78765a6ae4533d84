import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createValidator } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog, MemorySink } from '../../../src/lib/log.js';
import { chargerProfileSchema, loadProfile } from '../../../src/config/profiles.js';
import { keyDefinitions } from '../../../src/ocpp/v16/configuration.js';
import {
  baseReport, buildDeviceModel, checkValue, customReport, getVariables, MemoryVariableStore, requestLimitError, setVariables, topologyFromConnectors,
  type DeviceModel, type Topology,
} from '../../../src/ocpp/v201/device-model.js';
import type { ComponentType, NotifyReportRequest, ReportDataType } from '../../../src/ocpp/v201/messages.js';
import { sharedSettingsStore, V16_EQUIVALENTS } from '../../../src/ocpp/v201/v16-equivalents.js';
import { openDatabase } from '../../../src/store/database.js';
import { SqliteSettings } from '../../../src/store/settings.js';

const TOPOLOGY: Topology = {
  evses: [
    { id: 1, maxPowerW: 22_000, supplyPhases: 3, connectors: [{ id: 1, connectorType: 'cType2' }] },
    { id: 2, maxPowerW: 7_400, supplyPhases: 1, connectors: [{ id: 1, connectorType: 'sType2' }, { id: 2, connectorType: 'cType1' }] },
  ],
};
const validator = createValidator('ocpp2.0.1', JSON.parse(readFileSync(new URL('../../../node_modules/ocpp-rpc/lib/schemas/ocpp2_0_1.json', import.meta.url), 'utf8')));
const GENERATED_AT = '2026-12-03T14:00:00.000Z';

/**
 * The required variables of the Core and Advanced Security profiles (OCPP201.md §2, from
 * libocpp's standardized component configs): written out here, independently of the
 * definitions, so a definition dropped by mistake fails TC_B_53.
 */
const REQUIRED: [component: string, variable: string, instance?: string][] = [
  ['OCPPCommCtrlr', 'FileTransferProtocols'], ['OCPPCommCtrlr', 'MessageTimeout', 'Default'], ['OCPPCommCtrlr', 'MessageAttempts', 'TransactionEvent'],
  ['OCPPCommCtrlr', 'MessageAttemptInterval', 'TransactionEvent'], ['OCPPCommCtrlr', 'NetworkConfigurationPriority'],
  ['OCPPCommCtrlr', 'NetworkProfileConnectionAttempts'], ['OCPPCommCtrlr', 'OfflineThreshold'], ['OCPPCommCtrlr', 'ResetRetries'],
  ['OCPPCommCtrlr', 'RetryBackOffRandomRange'], ['OCPPCommCtrlr', 'RetryBackOffRepeatTimes'], ['OCPPCommCtrlr', 'RetryBackOffWaitMinimum'],
  ['OCPPCommCtrlr', 'UnlockOnEVSideDisconnect'], ['OCPPCommCtrlr', 'WebSocketPingInterval'], ['OCPPCommCtrlr', 'ActiveNetworkProfile'],
  ['TxCtrlr', 'EVConnectionTimeOut'], ['TxCtrlr', 'StopTxOnEVSideDisconnect'], ['TxCtrlr', 'StopTxOnInvalidId'], ['TxCtrlr', 'TxStartPoint'], ['TxCtrlr', 'TxStopPoint'],
  ['SampledDataCtrlr', 'TxStartedMeasurands'], ['SampledDataCtrlr', 'TxUpdatedMeasurands'], ['SampledDataCtrlr', 'TxEndedMeasurands'],
  ['SampledDataCtrlr', 'TxUpdatedInterval'], ['SampledDataCtrlr', 'TxEndedInterval'],
  ['AlignedDataCtrlr', 'Interval'], ['AlignedDataCtrlr', 'Measurands'], ['AlignedDataCtrlr', 'TxEndedInterval'], ['AlignedDataCtrlr', 'TxEndedMeasurands'],
  ['AuthCtrlr', 'AuthorizeRemoteStart'], ['AuthCtrlr', 'LocalAuthorizeOffline'], ['AuthCtrlr', 'LocalPreAuthorize'],
  ['SecurityCtrlr', 'CertificateEntries'], ['SecurityCtrlr', 'Identity'], ['SecurityCtrlr', 'OrganizationName'], ['SecurityCtrlr', 'SecurityProfile'],
  ['DeviceDataCtrlr', 'ItemsPerMessage', 'GetReport'], ['DeviceDataCtrlr', 'ItemsPerMessage', 'GetVariables'], ['DeviceDataCtrlr', 'ItemsPerMessage', 'SetVariables'],
  ['DeviceDataCtrlr', 'BytesPerMessage', 'GetReport'], ['DeviceDataCtrlr', 'BytesPerMessage', 'GetVariables'], ['DeviceDataCtrlr', 'BytesPerMessage', 'SetVariables'],
  ['ClockCtrlr', 'DateTime'], ['ClockCtrlr', 'TimeSource'],
  ['ChargingStation', 'AvailabilityState'], ['ChargingStation', 'Available'], ['ChargingStation', 'SupplyPhases'],
  // Advanced Security: certificate renewal (A02/A03).
  ['SecurityCtrlr', 'CertSigningWaitMinimum'], ['SecurityCtrlr', 'CertSigningRepeatTimes'],
  // Local Auth List, Smart Charging profiles.
  ['LocalAuthListCtrlr', 'Entries'], ['LocalAuthListCtrlr', 'ItemsPerMessage'], ['LocalAuthListCtrlr', 'BytesPerMessage'],
  ['SmartChargingCtrlr', 'Entries', 'ChargingProfiles'], ['SmartChargingCtrlr', 'LimitChangeSignificance'], ['SmartChargingCtrlr', 'PeriodsPerSchedule'],
  ['SmartChargingCtrlr', 'ProfileStackLevel'], ['SmartChargingCtrlr', 'RateUnit'],
];
const PER_EVSE = ['AvailabilityState', 'Available', 'SupplyPhases', 'Power'];
const PER_CONNECTOR = ['AvailabilityState', 'Available', 'SupplyPhases', 'ConnectorType'];

const id = (d: ReportDataType) =>
  [d.component.name, d.component.evse?.id ?? '', d.component.evse?.connectorId ?? '', d.variable.name, d.variable.instance ?? ''].join('|');
const parts = (reports: NotifyReportRequest[]) => reports.flatMap((r) => r.reportData ?? []);
const station = (name: string): ComponentType => ({ name });

function fresh(): { model: DeviceModel; store: MemoryVariableStore } {
  return { model: buildDeviceModel(TOPOLOGY), store: new MemoryVariableStore() };
}

describe('OCPP 2.0.1 device model: GetBaseReport (B07)', () => {
  it('TC_B_53 / B07.FR.08: a FullInventory holds every required variable, per EVSE and per connector of the topology, each message schema-valid', () => {
    const { model, store } = fresh();
    const { status, reports } = baseReport(model, store, { requestId: 1, reportBase: 'FullInventory' }, GENERATED_AT);
    expect(status).toBe('Accepted');
    for (const r of reports) expect(validator.validate('urn:NotifyReport.req', r)).toBe(true);
    const reported = new Set(parts(reports).map(id));
    const missing = REQUIRED.map(([c, v, i]) => [c, '', '', v, i ?? ''].join('|')).filter((k) => !reported.has(k));
    for (const e of TOPOLOGY.evses) {
      for (const v of PER_EVSE) if (!reported.has(['EVSE', e.id, '', v, ''].join('|'))) missing.push(`EVSE ${e.id} ${v}`);
      for (const c of e.connectors) for (const v of PER_CONNECTOR) if (!reported.has(['Connector', e.id, c.id, v, ''].join('|'))) missing.push(`Connector ${e.id}/${c.id} ${v}`);
    }
    expect(missing).toEqual([]);
    // No EVSE or connector that the topology does not have.
    expect(parts(reports).filter((d) => d.component.evse && d.component.evse.id > 2)).toEqual([]);
    expect(parts(reports).filter((d) => d.component.name === 'Connector' && d.component.evse?.id === 1 && d.component.evse.connectorId !== 1)).toEqual([]);
  });

  it('reports the topology: EVSE Power MaxSet and SupplyPhases per EVSE, ConnectorType per connector, with mutability, persistence and characteristics', () => {
    const { model, store } = fresh();
    const data = parts(baseReport(model, store, { requestId: 2, reportBase: 'FullInventory' }, GENERATED_AT).reports);
    const power2 = data.find((d) => id(d) === 'EVSE|2||Power|')!;
    expect(power2.variableAttribute).toEqual([
      { type: 'Actual', value: '0', mutability: 'ReadOnly', persistent: false, constant: false },
      { type: 'MaxSet', value: '7400', mutability: 'ReadOnly', persistent: true, constant: true },
    ]);
    expect(power2.variableCharacteristics).toEqual({ dataType: 'decimal', unit: 'W', minLimit: 0, supportsMonitoring: false });
    expect(data.find((d) => id(d) === 'EVSE|1||SupplyPhases|')!.variableAttribute[0]!.value).toBe('3');
    expect(data.find((d) => id(d) === 'Connector|2|2|ConnectorType|')!.variableAttribute[0]!.value).toBe('cType1');
    const startPoint = data.find((d) => id(d) === 'TxCtrlr|||TxStartPoint|')!;
    expect(startPoint.variableAttribute).toEqual([{ type: 'Actual', value: 'PowerPathClosed', mutability: 'ReadWrite', persistent: true, constant: false }]);
    // Only the start points the station honours (no bay sensor, no signing meter, EnergyTransfer not implemented).
    expect(startPoint.variableCharacteristics).toMatchObject({ dataType: 'MemberList', valuesList: 'EVConnected,Authorized,PowerPathClosed' });
  });

  it('WriteOnly values are never reported: BasicAuthPassword set, then absent from every report and refused by GetVariables', () => {
    const { model, store } = fresh();
    const password = 'correct-horse-battery-staple';
    expect(setVariables(model, store, [{ component: station('SecurityCtrlr'), variable: { name: 'BasicAuthPassword' }, attributeValue: password }]))
      .toEqual([{ component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' }, attributeStatus: 'Accepted' }]);
    for (const reportBase of ['FullInventory', 'ConfigurationInventory'] as const) {
      const { reports } = baseReport(model, store, { requestId: 3, reportBase }, GENERATED_AT);
      expect(JSON.stringify(reports)).not.toContain(password);
      const entry = parts(reports).find((d) => d.variable.name === 'BasicAuthPassword')!;
      expect(entry.variableAttribute).toEqual([{ type: 'Actual', mutability: 'WriteOnly', persistent: true, constant: false }]);
    }
    const [read] = getVariables(model, store, [{ component: station('SecurityCtrlr'), variable: { name: 'BasicAuthPassword' } }]);
    expect(read!.attributeStatus).toBe('Rejected');
    expect(read!.attributeValue).toBeUndefined();
  });

  it('ConfigurationInventory holds only what can be set; SummaryInventory the availability of station, EVSEs and connectors', () => {
    const { model, store } = fresh();
    const config = parts(baseReport(model, store, { requestId: 4, reportBase: 'ConfigurationInventory' }, GENERATED_AT).reports);
    expect(config.length).toBeGreaterThan(30);
    expect(config.filter((d) => d.variableAttribute.every((a) => a.mutability === 'ReadOnly'))).toEqual([]);
    expect(config.map(id)).toContain('TxCtrlr|||EVConnectionTimeOut|');
    expect(config.map(id)).not.toContain('SecurityCtrlr|||SecurityProfile|');
    const summary = parts(baseReport(model, store, { requestId: 5, reportBase: 'SummaryInventory' }, GENERATED_AT).reports);
    expect(summary.filter((d) => d.variable.name === 'AvailabilityState').map(id)).toEqual([
      'ChargingStation|||AvailabilityState|', 'EVSE|1||AvailabilityState|', 'EVSE|2||AvailabilityState|',
      'Connector|1|1|AvailabilityState|', 'Connector|2|1|AvailabilityState|', 'Connector|2|2|AvailabilityState|',
    ]);
    expect(summary.every((d) => ['AvailabilityState', 'Available'].includes(d.variable.name))).toBe(true);
  });

  it('splits by ItemsPerMessage: seqNo from 0, tbc true on all but the last, every item once and in order', () => {
    const { model, store } = fresh();
    const all = parts(baseReport(model, store, { requestId: 6, reportBase: 'FullInventory' }, GENERATED_AT, { itemsPerMessage: 1_000 }).reports);
    const { reports } = baseReport(model, store, { requestId: 6, reportBase: 'FullInventory' }, GENERATED_AT, { itemsPerMessage: 7 });
    expect(reports).toHaveLength(Math.ceil(all.length / 7));
    expect(reports.map((r) => r.seqNo)).toEqual(reports.map((_, i) => i));
    expect(reports.map((r) => r.tbc)).toEqual(reports.map((_, i) => i < reports.length - 1));
    expect(reports.every((r) => r.requestId === 6 && r.generatedAt === GENERATED_AT)).toBe(true);
    expect(reports.slice(0, -1).every((r) => r.reportData!.length === 7)).toBe(true);
    expect(parts(reports)).toEqual(all);
    for (const r of reports) expect(validator.validate('urn:NotifyReport.req', r)).toBe(true);
  });

  it('splits by BytesPerMessage: no CALL frame over the limit, every item once and in order; the default split follows DeviceDataCtrlr [GetReport]', () => {
    const { model, store } = fresh();
    const all = parts(baseReport(model, store, { requestId: 7, reportBase: 'FullInventory' }, GENERATED_AT, { itemsPerMessage: 1_000 }).reports);
    const limit = 2_000;
    const { reports } = baseReport(model, store, { requestId: 7, reportBase: 'FullInventory' }, GENERATED_AT, { itemsPerMessage: 1_000, bytesPerMessage: limit });
    const frames = reports.map((r) => Buffer.byteLength(JSON.stringify([2, '0b5e0c1a-6c7e-4d6f-9a55-3d2f1f0e9c11', 'NotifyReport', r])));
    expect(reports.length).toBeGreaterThan(5);
    expect(Math.max(...frames)).toBeLessThanOrEqual(limit);
    // Each part is full: the next item would not have fitted.
    for (let i = 0; i < reports.length - 1; i++) {
      const next = reports[i + 1]!.reportData![0]!;
      const grown = { ...reports[i]!, reportData: [...reports[i]!.reportData!, next] };
      expect(Buffer.byteLength(JSON.stringify([2, 'x'.repeat(36), 'NotifyReport', grown]))).toBeGreaterThan(limit);
    }
    expect(parts(reports)).toEqual(all);
    expect(reports.at(-1)!.tbc).toBe(false);
    // Defaults: ItemsPerMessage[GetReport] 50.
    const byDefault = baseReport(model, store, { requestId: 8, reportBase: 'FullInventory' }, GENERATED_AT).reports;
    expect(byDefault.map((r) => r.reportData!.length)).toEqual(byDefault.map((_, i) => (i < byDefault.length - 1 ? 50 : all.length - 50 * (byDefault.length - 1))));
  });
});

describe('OCPP 2.0.1 device model: the topology of a shipped charger profile', () => {
  it('each profile connector is an EVSE with connector 1, its power, phases (0 for DC) and 2.0.1 connector type', () => {
    const read = (ref: string, model = buildDeviceModel(topologyFromConnectors(loadProfile('chargers', ref, chargerProfileSchema).connectors))) =>
      getVariables(model, new MemoryVariableStore(), [1, 2].flatMap((evse) => [
        { component: { name: 'EVSE', evse: { id: evse } }, variable: { name: 'Power' }, attributeType: 'MaxSet' as const },
        { component: { name: 'EVSE', evse: { id: evse } }, variable: { name: 'SupplyPhases' } },
        { component: { name: 'Connector', evse: { id: evse, connectorId: 1 } }, variable: { name: 'ConnectorType' } },
      ])).map((r) => r.attributeValue ?? r.attributeStatus);
    expect(read('sim-ac-2x22kw')).toEqual(['22080', '3', 'sType2', '22080', '3', 'sType2']);
    expect(read('sim-dc-150kw')).toEqual(['150000', '0', 'cCCS2', 'UnknownComponent', 'UnknownComponent', 'UnknownComponent']);
  });
});

describe('OCPP 2.0.1 device model: GetReport (B08)', () => {
  it('componentVariable: a named variable; a component without a variable gives all of it; without an EVSE every instance; unknown ones nothing', () => {
    const { model, store } = fresh();
    const ids = (r: ReturnType<typeof customReport>) => parts(r.reports).map(id);
    expect(ids(customReport(model, store, { requestId: 1, componentVariable: [{ component: station('TxCtrlr'), variable: { name: 'TxStopPoint' } }] }, GENERATED_AT)))
      .toEqual(['TxCtrlr|||TxStopPoint|']);
    expect(ids(customReport(model, store, { requestId: 2, componentVariable: [{ component: station('ClockCtrlr') }] }, GENERATED_AT))).toEqual(['ClockCtrlr|||DateTime|', 'ClockCtrlr|||TimeSource|']);
    expect(ids(customReport(model, store, { requestId: 3, componentVariable: [{ component: { name: 'Connector' }, variable: { name: 'ConnectorType' } }] }, GENERATED_AT)))
      .toEqual(['Connector|1|1|ConnectorType|', 'Connector|2|1|ConnectorType|', 'Connector|2|2|ConnectorType|']);
    expect(ids(customReport(model, store, { requestId: 4, componentVariable: [{ component: { name: 'Connector', evse: { id: 2, connectorId: 2 } }, variable: { name: 'ConnectorType' } }] }, GENERATED_AT)))
      .toEqual(['Connector|2|2|ConnectorType|']);
    expect(customReport(model, store, { requestId: 5, componentVariable: [{ component: station('WaterCtrlr') }] }, GENERATED_AT)).toEqual({ status: 'EmptyResultSet', reports: [] });
  });

  it('componentCriteria: components whose Available/Enabled is true; with componentVariable, both must hold', () => {
    const { model, store } = fresh();
    // EVSE 2 unavailable (a live value the charger's store answers).
    store.set({ component: 'EVSE', evseId: 2, variable: 'Available', attribute: 'Actual' }, 'false');
    setVariables(model, store, [{ component: station('AuthCacheCtrlr'), variable: { name: 'Enabled' }, attributeValue: 'false' }]);
    const available = parts(customReport(model, store, { requestId: 6, componentCriteria: ['Available'] }, GENERATED_AT).reports);
    const components = [...new Set(available.map((d) => `${d.component.name}${d.component.evse ? ` ${d.component.evse.id}/${d.component.evse.connectorId ?? ''}` : ''}`))];
    expect(components).toEqual(['ChargingStation', 'EVSE 1/', 'Connector 1/1', 'Connector 2/1', 'Connector 2/2', 'SmartChargingCtrlr', 'ReservationCtrlr', 'DisplayMessageCtrlr']);
    const enabled = new Set(parts(customReport(model, store, { requestId: 7, componentCriteria: ['Enabled'] }, GENERATED_AT).reports).map((d) => d.component.name));
    expect([...enabled]).toEqual(['AuthCtrlr', 'LocalAuthListCtrlr', 'SmartChargingCtrlr', 'ReservationCtrlr', 'DisplayMessageCtrlr']);
    const both = customReport(model, store, { requestId: 8, componentCriteria: ['Available'], componentVariable: [{ component: { name: 'EVSE' }, variable: { name: 'Power' } }] }, GENERATED_AT);
    expect(parts(both.reports).map(id)).toEqual(['EVSE|1||Power|']);
    for (const r of both.reports) expect(validator.validate('urn:NotifyReport.req', r)).toBe(true);
  });
});

describe('OCPP 2.0.1 device model: GetVariables (B06) and SetVariables (B05)', () => {
  it('B06: one result per item in order, Actual by default; UnknownComponent, UnknownVariable, NotSupportedAttributeType; names compared case-insensitively', () => {
    const { model, store } = fresh();
    const results = getVariables(model, store, [
      { component: station('OCPPCommCtrlr'), variable: { name: 'MessageAttempts', instance: 'TransactionEvent' } },
      { component: station('ocppcommctrlr'), variable: { name: 'messageattemptinterval', instance: 'transactionevent' }, attributeType: 'Actual' },
      { component: station('WaterCtrlr'), variable: { name: 'Enabled' } },
      { component: station('TxCtrlr'), variable: { name: 'TxTeleportPoint' } },
      { component: station('TxCtrlr'), variable: { name: 'EVConnectionTimeOut' }, attributeType: 'Target' },
      { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'Power' }, attributeType: 'MaxSet' },
      { component: { name: 'EVSE', evse: { id: 3 } }, variable: { name: 'Power' } },
      { component: { name: 'Connector', evse: { id: 2, connectorId: 2 } }, variable: { name: 'ConnectorType' } },
      { component: station('OCPPCommCtrlr'), variable: { name: 'MessageAttempts' } },
    ]);
    expect(results.map((r) => [r.attributeStatus, r.attributeValue])).toEqual([
      ['Accepted', '3'], ['Accepted', '60'], ['UnknownComponent', undefined], ['UnknownVariable', undefined], ['NotSupportedAttributeType', undefined],
      ['Accepted', '22000'], ['UnknownComponent', undefined], ['Accepted', 'cType1'], ['UnknownVariable', undefined],
    ]);
    // The request's names are echoed as sent.
    expect(results[1]).toMatchObject({ component: { name: 'ocppcommctrlr' }, variable: { name: 'messageattemptinterval', instance: 'transactionevent' }, attributeType: 'Actual' });
    expect(validator.validate('urn:GetVariables.conf', { getVariableResult: results })).toBe(true);
  });

  it('B05: a ReadOnly variable is Rejected and keeps its value; a ReadWrite one is Accepted, stored normalised and read back', () => {
    const { model, store } = fresh();
    const set = setVariables(model, store, [
      { component: station('SecurityCtrlr'), variable: { name: 'SecurityProfile' }, attributeValue: '0' },
      { component: station('OCPPCommCtrlr'), variable: { name: 'FileTransferProtocols' }, attributeValue: 'FTP' },
      { component: station('TxCtrlr'), variable: { name: 'EVConnectionTimeOut' }, attributeValue: '120' },
      { component: station('TxCtrlr'), variable: { name: 'StopTxOnInvalidId' }, attributeValue: 'FALSE' },
      { component: station('SampledDataCtrlr'), variable: { name: 'TxUpdatedMeasurands' }, attributeValue: 'Energy.Active.Import.Register, Power.Active.Import' },
    ]);
    expect(set.map((r) => r.attributeStatus)).toEqual(['Rejected', 'Rejected', 'Accepted', 'Accepted', 'Accepted']);
    expect(set[0]!.attributeStatusInfo).toEqual({ reasonCode: 'ReadOnly' });
    expect(validator.validate('urn:SetVariables.conf', { setVariableResult: set })).toBe(true);
    const read = getVariables(model, store, [
      { component: station('SecurityCtrlr'), variable: { name: 'SecurityProfile' } },
      { component: station('OCPPCommCtrlr'), variable: { name: 'FileTransferProtocols' } },
      { component: station('TxCtrlr'), variable: { name: 'EVConnectionTimeOut' } },
      { component: station('TxCtrlr'), variable: { name: 'StopTxOnInvalidId' } },
      { component: station('SampledDataCtrlr'), variable: { name: 'TxUpdatedMeasurands' } },
    ]);
    expect(read.map((r) => r.attributeValue)).toEqual(['1', 'FTP,FTPS,HTTP,HTTPS', '120', 'false', 'Energy.Active.Import.Register,Power.Active.Import']);
  });

  it('B05: values are checked against dataType, valuesList and limits (Rejected, InvalidValue), and a variable needing a reboot answers RebootRequired', () => {
    const { model, store } = fresh();
    const s = (component: string, name: string, attributeValue: string, instance?: string) =>
      setVariables(model, store, [{ component: station(component), variable: { name, ...(instance ? { instance } : {}) }, attributeValue }])[0]!;
    expect(s('OCPPCommCtrlr', 'HeartbeatInterval', 'often')).toMatchObject({ attributeStatus: 'Rejected', attributeStatusInfo: { reasonCode: 'InvalidValue', additionalInfo: 'not an integer' } });
    expect(s('OCPPCommCtrlr', 'HeartbeatInterval', '0').attributeStatus).toBe('Rejected');
    expect(s('OCPPCommCtrlr', 'MessageAttempts', '101', 'TransactionEvent').attributeStatus).toBe('Rejected');
    expect(s('OCPPCommCtrlr', 'MessageAttempts', '5', 'TransactionEvent').attributeStatus).toBe('Accepted');
    expect(s('TxCtrlr', 'StopTxOnInvalidId', 'yes').attributeStatus).toBe('Rejected');
    expect(s('TxCtrlr', 'TxStopPoint', 'EVConnected,DataSigned').attributeStatusInfo?.additionalInfo).toBe('not supported: DataSigned');
    expect(s('TxCtrlr', 'TxStopPoint', 'EVConnected,EVConnected').attributeStatus).toBe('Rejected');
    expect(s('TxCtrlr', 'TxStopPoint', 'Authorized,EVConnected').attributeStatus).toBe('Accepted');
    expect(s('TxCtrlr', 'TxStartPoint', 'EnergyTransfer').attributeStatus).toBe('Rejected');
    expect(s('TxCtrlr', 'TxStartPoint', 'EVConnected').attributeStatus).toBe('Accepted');
    expect(s('OCPPCommCtrlr', 'PublicKeyWithSignedMeterValue', 'Sometimes').attributeStatus).toBe('Rejected');
    expect(s('OCPPCommCtrlr', 'PublicKeyWithSignedMeterValue', 'OncePerTransaction').attributeStatus).toBe('Accepted');
    expect(s('SampledDataCtrlr', 'TxEndedMeasurands', 'Energy.Active.Import.Register,Vibration').attributeStatus).toBe('Rejected');
    expect(s('SmartChargingCtrlr', 'LimitChangeSignificance', '1.5').attributeStatus).toBe('Rejected');
    expect(s('SmartChargingCtrlr', 'LimitChangeSignificance', '0.25').attributeStatus).toBe('Accepted');
    // BasicAuthPassword: 16 to 40 characters.
    expect(s('SecurityCtrlr', 'BasicAuthPassword', 'short').attributeStatus).toBe('Rejected');
    expect(s('SecurityCtrlr', 'BasicAuthPassword', 'x'.repeat(41)).attributeStatus).toBe('Rejected');
    expect(s('ClockCtrlr', 'TimeSource', 'NTP,Heartbeat').attributeStatus).toBe('Accepted');
    expect(s('OCPPCommCtrlr', 'NetworkConfigurationPriority', '1,0').attributeStatus).toBe('RebootRequired');
    expect(s('OCPPCommCtrlr', 'NetworkConfigurationPriority', '1,7').attributeStatus).toBe('Rejected');
    expect(s('SecurityCtrlr', 'Identity', 'CP-201').attributeStatus).toBe('RebootRequired');
    expect(s('SecurityCtrlr', 'Identity', 'x'.repeat(49)).attributeStatus).toBe('Rejected');
    const read = getVariables(model, store, [
      { component: station('OCPPCommCtrlr'), variable: { name: 'HeartbeatInterval' } },
      { component: station('TxCtrlr'), variable: { name: 'TxStopPoint' } },
      { component: station('OCPPCommCtrlr'), variable: { name: 'NetworkConfigurationPriority' } },
    ]);
    expect(read.map((r) => r.attributeValue)).toEqual(['300', 'Authorized,EVConnected', '1,0']);
  });

  it('checkValue on dateTime and decimals', () => {
    expect(checkValue({ dataType: 'dateTime', supportsMonitoring: false }, '2026-12-03T14:00:00Z')).toEqual({ value: '2026-12-03T14:00:00Z' });
    expect(checkValue({ dataType: 'dateTime', supportsMonitoring: false }, 'yesterday')).toHaveProperty('problem');
    expect(checkValue({ dataType: 'decimal', minLimit: 0, supportsMonitoring: false }, '')).toEqual({ problem: 'not a decimal' });
    expect(checkValue({ dataType: 'decimal', minLimit: 0, supportsMonitoring: false }, '-0.5')).toEqual({ problem: 'below 0' });
  });

  it('too many items → OccurrenceConstraintViolation, too many bytes → FormatViolation (DeviceDataCtrlr limits)', () => {
    const { model, store } = fresh();
    expect(requestLimitError(model, store, 'GetVariables', 50, 60_000)).toBeUndefined();
    expect(requestLimitError(model, store, 'GetVariables', 51, 100)).toBe('OccurrenceConstraintViolation');
    expect(requestLimitError(model, store, 'SetVariables', 1, 65_001)).toBe('FormatViolation');
  });
});

describe('the 1.6 keys and the 2.0.1 variables: two views of one set of settings', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const v16 = keyDefinitions({ numberOfConnectors: 2, featureProfiles: ['Core', 'LocalAuthListManagement', 'SmartCharging', 'Reservation'] });

  it('every equivalent names a real 1.6 key and a real 2.0.1 variable, once each, and every 1.6 default is a valid 2.0.1 value', () => {
    const model = buildDeviceModel(TOPOLOGY);
    for (const e of V16_EQUIVALENTS) {
      const key = v16.find((d) => d.key === e.key);
      expect(key, e.key).toBeDefined();
      const dv = model.variables.find((d) => d.component === e.component && d.variable === e.variable && d.variableInstance === e.variableInstance && d.evseId === undefined);
      expect(dv, `${e.component}.${e.variable}`).toBeDefined();
      const value = (e.toV201 ?? ((x: string) => x))(key!.default);
      expect(checkValue(dv!.characteristics, value), `${e.key}=${key!.default}`).toHaveProperty('value');
      // The same mutability on both sides.
      expect(dv!.attributes[0]!.mutability === 'ReadOnly', e.key).toBe(key!.readonly);
    }
    expect(new Set(V16_EQUIVALENTS.map((e) => e.key)).size).toBe(V16_EQUIVALENTS.length);
    expect(new Set(V16_EQUIVALENTS.map((e) => `${e.component}.${e.variable}.${e.variableInstance ?? ''}`)).size).toBe(V16_EQUIVALENTS.length);
    expect(V16_EQUIVALENTS.map((e) => e.key)).toEqual(expect.arrayContaining(['MeterValuesSampledData', 'ConnectionTimeOut', 'AuthorizationCacheEnabled']));
  });

  it('backed by the 1.6 settings in SQLite: a value set by SetVariables reads back as the 1.6 key and survives a reopen; a 1.6 change reads through GetVariables', () => {
    dir = mkdtempSync(join(tmpdir(), 'evse-edge-dm-'));
    const path = join(dir, 'agent.db');
    const log = createLog(new MemorySink('error'));
    const defaults = new Map(v16.map((d) => [d.key, d.default]));
    const model = buildDeviceModel(TOPOLOGY);
    let db = openDatabase(path, { log });
    let settings = new SqliteSettings(db, 'CP-201', defaults);
    const own = new MemoryVariableStore();
    let store = sharedSettingsStore(settings, own);
    const results = setVariables(model, store, [
      { component: station('TxCtrlr'), variable: { name: 'EVConnectionTimeOut' }, attributeValue: '120' },
      { component: station('AuthCacheCtrlr'), variable: { name: 'Enabled' }, attributeValue: 'false' },
      { component: station('OCPPCommCtrlr'), variable: { name: 'MessageAttempts', instance: 'TransactionEvent' }, attributeValue: '7' },
      { component: station('OCPPCommCtrlr'), variable: { name: 'OfflineThreshold' }, attributeValue: '90' },
    ]);
    expect(results.map((r) => r.attributeStatus)).toEqual(['Accepted', 'Accepted', 'Accepted', 'Accepted']);
    expect([settings.get('ConnectionTimeOut'), settings.get('AuthorizationCacheEnabled'), settings.get('TransactionMessageAttempts')]).toEqual(['120', 'false', '7']);
    // A variable with no 1.6 equivalent stays in the 2.0.1 store.
    expect(own.values.size).toBe(1);
    db.close();

    db = openDatabase(path, { log });
    settings = new SqliteSettings(db, 'CP-201', defaults);
    store = sharedSettingsStore(settings, own);
    settings.set('MeterValuesSampledData', 'Energy.Active.Import.Register,SoC');
    const read = getVariables(model, store, [
      { component: station('TxCtrlr'), variable: { name: 'EVConnectionTimeOut' } },
      { component: station('SampledDataCtrlr'), variable: { name: 'TxUpdatedMeasurands' } },
      { component: station('SmartChargingCtrlr'), variable: { name: 'RateUnit' } },
      { component: station('OCPPCommCtrlr'), variable: { name: 'OfflineThreshold' } },
    ]);
    expect(read.map((r) => r.attributeValue)).toEqual(['120', 'Energy.Active.Import.Register,SoC', 'A,W', '90']);
    db.close();
  });
});

describe('device models shared by topology', () => {
  const topology = (phases: number) => ({ evses: [1, 2].map((id) => ({ id, maxPowerW: 22_000, supplyPhases: phases, connectors: [{ id: 1, connectorType: 'sType2' }] })) });

  it('gives stations of one topology the same read-only model, and another topology its own', () => {
    const a = buildDeviceModel(topology(3));
    expect(buildDeviceModel(JSON.parse(JSON.stringify(topology(3))))).toBe(a);
    const b = buildDeviceModel(topology(1));
    expect(b).not.toBe(a);
    // Each answers from its own placed defaults (EVSE SupplyPhases), and values stay per station (their stores).
    const key = { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'SupplyPhases' } };
    expect(getVariables(a, new MemoryVariableStore(), [key])[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: '3' });
    expect(getVariables(b, new MemoryVariableStore(), [key])[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: '1' });
    const s1 = new MemoryVariableStore();
    const s2 = new MemoryVariableStore();
    const set = { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' }, attributeValue: '77' };
    expect(setVariables(a, s1, [set])[0]).toMatchObject({ attributeStatus: 'Accepted' });
    const hb = { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } };
    expect(getVariables(a, s1, [hb])[0]!.attributeValue).toBe('77');
    expect(getVariables(a, s2, [hb])[0]!.attributeValue).not.toBe('77');
  });
});
