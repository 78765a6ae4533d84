import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = join(import.meta.dirname, '../..');

/**
 * src/ocpp/rpc.ts builds ocpp-rpc's standard validators on first use. Checked in a fresh Node
 * process (this one may have loaded ocpp-rpc first, through the test helpers): which bundled
 * schema files are loaded when, and that the lazy validators answer as ocpp-rpc's own do.
 */
function inFreshProcess(script: string): unknown {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const PROBE = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).filter((k) => k.includes('ocpp-rpc/lib/schemas/')).map((k) => k.split('/').pop()).sort();
const rpc = await import('./src/ocpp/rpc.ts');
const out = { atImport: loaded() };
const outcome = (v, id, params) => { try { return { ok: v.validate(id, params) }; } catch (e) { return { code: e.rpcErrorCode, message: e.message }; } };
const CASES = [
  ['urn:BootNotification.req', { chargePointVendor: 'ACME', chargePointModel: 'X1' }],
  ['urn:BootNotification.req', { chargePointVendor: 'ACME' }],
  ['urn:BootNotification.req', { chargePointVendor: 'A'.repeat(21), chargePointModel: 'X1' }],
  ['urn:StatusNotification.req', { connectorId: 1, errorCode: 'NoError', status: 'Charging2' }],
];
const lazy16 = rpc.standardValidator('ocpp1.6');
out.lazy = CASES.map(([id, p]) => outcome(lazy16, id, p));
out.after16 = loaded();
const own = rpc.createValidator('ocpp1.6', require('ocpp-rpc/lib/schemas/ocpp1_6.json'));
out.own = CASES.map(([id, p]) => outcome(own, id, p));
out.v201 = outcome(rpc.standardValidator('ocpp2.0.1'), 'urn:Heartbeat.req', {});
out.after201 = loaded();
console.log(JSON.stringify(out));
`;

describe('ocpp-rpc validators built on first use', () => {
  it("loads no bundled schema at import, a version's schemas at its first validation, and answers as ocpp-rpc's own validator", () => {
    const out = inFreshProcess(PROBE) as { atImport: string[]; after16: string[]; after201: string[]; lazy: unknown[]; own: unknown[]; v201: unknown };
    expect(out.atImport).toEqual([]);
    expect(out.after16).toEqual(['ocpp1_6.json']);
    expect(out.after201).toEqual(['ocpp1_6.json', 'ocpp2_0_1.json']);
    // The same verdicts, codes and messages as a validator built from the same schemas at once.
    expect(out.lazy).toEqual(out.own);
    expect(out.lazy[0]).toEqual({ ok: true });
    expect(out.lazy[1]).toMatchObject({ code: 'OccurenceConstraintViolation' });
    expect(out.lazy[2]).toMatchObject({ code: 'FormatViolation' });
    expect(out.lazy[3]).toMatchObject({ code: 'FormatViolation' }); // an enum value ocpp-rpc maps to FormatViolation
    expect(out.v201).toEqual({ ok: true });
  });
});

const PREPARE = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).filter((k) => k.includes('ocpp-rpc/lib/schemas/')).map((k) => k.split('/').pop()).sort();
const Ajv = require('ajv');
let compiles = 0;
const compile = Ajv.prototype._compileSchemaEnv;
Ajv.prototype._compileSchemaEnv = function (...a) { compiles++; return compile.apply(this, a); };
const rpc = await import('./src/ocpp/rpc.ts');
rpc.prepareStandardValidator('ocpp9.9');
const out = { unknown: loaded() };
rpc.prepareStandardValidator('ocpp1.6');
out.prepared = loaded();
out.compiledByPrepare = compiles;
const outcome = (v, id, params) => { try { return { ok: v.validate(id, params) }; } catch (e) { return { code: e.rpcErrorCode, message: e.message }; } };
const v = rpc.standardValidator('ocpp1.6');
out.verdicts = [
  outcome(v, 'urn:BootNotification.req', { chargePointVendor: 'ACME', chargePointModel: 'X1' }),
  outcome(v, 'urn:BootNotification.req', { chargePointVendor: 'ACME' }),
  outcome(v, 'urn:MeterValues.req', { connectorId: 1, meterValue: [{ timestamp: '2026-01-01T00:00:00Z', sampledValue: [{ value: '1' }] }] }),
  outcome(v, 'urn:StopTransaction.conf', {}),
];
out.compiledAfter = compiles - out.compiledByPrepare;
console.log(JSON.stringify(out));
`;

describe('a validator prepared before the first connection', () => {
  it("compiles every schema of its version at once, so that no later call compiles one, and answers as before; an unknown version is a no-op", () => {
    const out = inFreshProcess(PREPARE) as { unknown: string[]; prepared: string[]; compiledByPrepare: number; verdicts: unknown[]; compiledAfter: number };
    expect(out.unknown).toEqual([]);
    expect(out.prepared).toEqual(['ocpp1_6.json']);
    // ocpp1_6.json holds 78 schemas (a request and an answer per action).
    expect(out.compiledByPrepare).toBeGreaterThanOrEqual(78);
    expect(out.compiledAfter).toBe(0);
    expect(out.verdicts).toEqual([{ ok: true }, expect.objectContaining({ code: 'OccurenceConstraintViolation' }), { ok: true }, { ok: true }]);
  });
});
