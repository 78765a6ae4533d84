/**
 * Generates src/ocpp/v201/messages.ts from ocpp-rpc's bundled OCPP 2.0.1 JSON schemas (the same
 * schemas its strict mode validates every message against), so the types cannot drift from
 * what the wire accepts. test/ocpp/v201/messages.test.ts regenerates it and compares.
 *
 *   npx tsx tools/gen-v201-messages.ts        writes the file
 *   npx tsx tools/gen-v201-messages.ts --check exits 1 when the committed file differs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Schema {
  $id?: string;
  $ref?: string;
  type?: string;
  enum?: string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  definitions?: Record<string, Schema>;
  items?: Schema;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  format?: string;
  default?: unknown;
}

/** OCPP 2.0.1 Part 2 §1: the messages a Charging Station sends (DataTransfer goes both ways). */
export const STATION_TO_CSMS = [
  'Authorize', 'BootNotification', 'ClearedChargingLimit', 'DataTransfer', 'FirmwareStatusNotification', 'Get15118EVCertificate',
  'GetCertificateStatus', 'Heartbeat', 'LogStatusNotification', 'MeterValues', 'NotifyChargingLimit', 'NotifyCustomerInformation',
  'NotifyDisplayMessages', 'NotifyEVChargingNeeds', 'NotifyEVChargingSchedule', 'NotifyEvent', 'NotifyMonitoringReport', 'NotifyReport',
  'PublishFirmwareStatusNotification', 'ReportChargingProfiles', 'ReservationStatusUpdate', 'SecurityEventNotification', 'SignCertificate',
  'StatusNotification', 'TransactionEvent',
] as const;

/** The messages a CSMS sends. */
export const CSMS_TO_STATION = [
  'CancelReservation', 'CertificateSigned', 'ChangeAvailability', 'ClearCache', 'ClearChargingProfile', 'ClearDisplayMessage',
  'ClearVariableMonitoring', 'CostUpdated', 'CustomerInformation', 'DataTransfer', 'DeleteCertificate', 'GetBaseReport',
  'GetChargingProfiles', 'GetCompositeSchedule', 'GetDisplayMessages', 'GetInstalledCertificateIds', 'GetLocalListVersion', 'GetLog',
  'GetMonitoringReport', 'GetReport', 'GetTransactionStatus', 'GetVariables', 'InstallCertificate', 'PublishFirmware',
  'RequestStartTransaction', 'RequestStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile', 'SetDisplayMessage',
  'SetMonitoringBase', 'SetMonitoringLevel', 'SetNetworkProfile', 'SetVariableMonitoring', 'SetVariables', 'TriggerMessage',
  'UnlockConnector', 'UnpublishFirmware', 'UpdateFirmware',
] as const;

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function constraints(s: Schema): string[] {
  const c: string[] = [];
  if (s.maxLength !== undefined) c.push(`at most ${s.maxLength} characters`);
  if (s.format === 'date-time') c.push('RFC 3339 date-time');
  if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
  const items = (n: number) => `${n} item${n === 1 ? '' : 's'}`;
  if (s.minItems !== undefined) c.push(`at least ${items(s.minItems)}`);
  if (s.maxItems !== undefined) c.push(`at most ${items(s.maxItems)}`);
  if (s.items) c.push(...constraints(s.items).map((x) => `each ${x}`));
  if (s.default !== undefined) c.push(`default ${JSON.stringify(s.default)}`);
  return c;
}

function typeOf(s: Schema, where: string): string {
  if (s.$ref) {
    const m = /^#\/definitions\/(\w+)$/.exec(s.$ref);
    if (!m) throw new Error(`${where}: unsupported $ref ${s.$ref}`);
    return m[1]!;
  }
  if (s.enum) return s.enum.map(quote).join(' | ');
  switch (s.type) {
    case undefined:
      return 'unknown';
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array': {
      if (!s.items) throw new Error(`${where}: array without items`);
      const t = typeOf(s.items, `${where}[]`);
      return t.includes('|') ? `(${t})[]` : `${t}[]`;
    }
    case 'object':
      return objectBody(s, where, '');
    default:
      throw new Error(`${where}: unsupported type ${s.type}`);
  }
}

function objectBody(s: Schema, where: string, indent: string): string {
  const required = new Set(s.required ?? []);
  const lines: string[] = [];
  for (const [name, p] of Object.entries(s.properties ?? {})) {
    const c = constraints(p);
    if (c.length) lines.push(`${indent}  /** ${c.join('; ')} */`);
    lines.push(`${indent}  ${name}${required.has(name) ? '' : '?'}: ${typeOf(p, `${where}.${name}`)};`);
  }
  // CustomDataType is open by design: vendors extend it.
  if (s.additionalProperties !== false) lines.push(`${indent}  [key: string]: unknown;`);
  return lines.length ? `{\n${lines.join('\n')}\n${indent}}` : 'Record<string, never>';
}

function definition(name: string, s: Schema): string {
  if (s.enum) return `export type ${name} = ${s.enum.map(quote).join(' | ')};`;
  if (s.type === 'object') return `export interface ${name} ${objectBody(s, name, '')}`;
  throw new Error(`${name}: unsupported definition`);
}

/** The TypeScript source of messages.ts for these schemas. */
export function generateMessages(schemas: readonly Schema[]): string {
  const byId = new Map(schemas.map((s) => [s.$id ?? '', s]));
  const actions = [...new Set(schemas.map((s) => /^urn:(\w+)\.(req|conf)$/.exec(s.$id ?? '')?.[1]).filter((a): a is string => !!a))].sort();
  const placed = new Set<string>([...STATION_TO_CSMS, ...CSMS_TO_STATION]);
  const unplaced = actions.filter((a) => !placed.has(a));
  const missing = [...placed].filter((a) => !actions.includes(a));
  if (unplaced.length || missing.length) throw new Error(`direction lists disagree with the schemas: not placed ${unplaced.join(', ') || '-'}; no schema ${missing.join(', ') || '-'}`);

  // Every schema repeats the definitions it uses; the same name means the same type throughout.
  const defs = new Map<string, { text: string; schema: Schema }>();
  for (const s of schemas) {
    for (const [name, d] of Object.entries(s.definitions ?? {})) {
      const text = JSON.stringify(d, (k, v) => (k === 'description' ? undefined : v));
      const seen = defs.get(name);
      if (seen && seen.text !== text) throw new Error(`definition ${name} differs between schemas (${s.$id})`);
      defs.set(name, { text, schema: d });
    }
  }

  const out: string[] = [
    '/**',
    ' * OCPP 2.0.1 message types: one map from action to request and response, for both directions.',
    " * GENERATED by tools/gen-v201-messages.ts from ocpp-rpc's bundled schemas (lib/schemas/ocpp2_0_1.json);",
    ' * do not edit: run `npx tsx tools/gen-v201-messages.ts`. Field and type names are the wire names.',
    ' */',
    '',
  ];
  for (const name of [...defs.keys()].sort()) out.push(definition(name, defs.get(name)!.schema), '');
  for (const action of actions) {
    for (const [suffix, kind] of [['req', 'Request'], ['conf', 'Response']] as const) {
      const s = byId.get(`urn:${action}.${suffix}`);
      if (!s) throw new Error(`no schema urn:${action}.${suffix}`);
      out.push(`export interface ${action}${kind} ${objectBody(s, `${action}.${suffix}`, '')}`, '');
    }
  }
  const map = (name: string, doc: string, list: readonly string[]) => [
    `/** ${doc} */`,
    `export interface ${name} {`,
    ...[...list].sort().map((a) => `  ${a}: [${a}Request, ${a}Response];`),
    '}',
    '',
  ];
  out.push(
    ...map('ChargingStationCalls', 'Calls from the charging station to the CSMS.', STATION_TO_CSMS),
    ...map('CsmsCalls', 'Calls from the CSMS to the charging station.', CSMS_TO_STATION),
    'export type StationAction = keyof ChargingStationCalls;',
    'export type CsmsAction = keyof CsmsCalls;',
    'export type StationRequest<A extends StationAction> = ChargingStationCalls[A][0];',
    'export type StationResponse<A extends StationAction> = ChargingStationCalls[A][1];',
    'export type CsmsRequest<A extends CsmsAction> = CsmsCalls[A][0];',
    'export type CsmsResponse<A extends CsmsAction> = CsmsCalls[A][1];',
    '',
    `export const STATION_ACTIONS = [${[...STATION_TO_CSMS].sort().map(quote).join(', ')}] as const satisfies readonly StationAction[];`,
    `export const CSMS_ACTIONS = [${[...CSMS_TO_STATION].sort().map(quote).join(', ')}] as const satisfies readonly CsmsAction[];`,
    '',
  );
  return out.join('\n');
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OUTPUT = join(ROOT, 'src/ocpp/v201/messages.ts');

export function bundledSchemas(): Schema[] {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve('ocpp-rpc/lib/schemas/ocpp2_0_1.json'), 'utf8')) as Schema[];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = generateMessages(bundledSchemas());
  if (process.argv.includes('--check')) {
    const same = readFileSync(OUTPUT, 'utf8') === text;
    if (!same) console.error(`${OUTPUT} is stale: run npx tsx tools/gen-v201-messages.ts`);
    process.exit(same ? 0 : 1);
  }
  writeFileSync(OUTPUT, text);
  console.log(`wrote ${OUTPUT}`);
}
