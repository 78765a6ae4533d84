/**
 * The signing exchange as a real RS-485 bus carries it (test/fixtures/modbus/iskra-wm3m4c.signing.hex,
 * RTU frames with their CRCs, recorded against the signing pymodbus slave by
 * test/fixtures/modbus/generate-signing.ts), replayed on a socat pty: the driver must send
 * exactly the recorded requests, and the OCMF record it builds from the recorded answers must
 * verify with the public key it read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/profiles.js';
import { createModbusMeter, loadMeterProfile, ModbusBus } from '../../src/drivers/modbus/index.js';
import { P256_SPKI_PREFIX } from '../../src/drivers/modbus/ocmf-signer.js';
import { parseOcmf, verifyOcmf } from '../../src/lib/ocmf.js';
import { FIXTURES } from '../helpers/modbus-slave.js';
import { startPtyPair } from '../helpers/pty.js';
import { crcOk, playSlave, readExchanges, withCrc, type Exchange } from '../helpers/rtu-exchange.js';
import { SIGNING_FIXTURE } from '../helpers/signing-fixture.js';

const profile = loadMeterProfile(join(PROFILES_DIR, 'meters', 'iskra-wm3m4c.json'));
const exchanges = readExchanges(join(FIXTURES, 'iskra-wm3m4c.signing.hex'));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'iskra-wm3m4c.signing.json'), 'utf8')) as { publicKey: string; beginWh: number; endWh: number; record: string };
const sg = profile.signing!;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

let now: number = SIGNING_FIXTURE.clockMs;
const clock = {
  now: () => now,
  setTimeout: (fn: () => void, ms: number) => { const t = setTimeout(fn, ms); return { cancel: () => clearTimeout(t) }; },
  trusted: () => true,
};

/** The driver against a pty whose other end plays the recorded slave. */
async function replay(recorded: Exchange[]) {
  const pair = await startPtyPair();
  cleanups.push(() => pair.cleanup());
  const player = playSlave(await pair.openDevice(), recorded);
  const bus = new ModbusBus({ kind: 'rtu', path: pair.host, baudRate: 115_200, parity: 'none' });
  cleanups.push(() => bus.stop());
  const meter = createModbusMeter({ bus, profile, unitId: 1, connectorId: 1, timeoutMs: 2_000, retries: 0, clock, ocmfMetadata: SIGNING_FIXTURE.metadata });
  try {
    now = SIGNING_FIXTURE.clockMs;
    const publicKey = await meter.signer!.publicKey();
    const begin = await meter.signer!.readSigned('begin');
    now = SIGNING_FIXTURE.endClockMs;
    const end = await meter.signer!.readSigned('end');
    return { player, publicKey, begin, end };
  } catch (err) {
    // A request the recording does not hold goes unanswered: say which, not only that it timed out.
    throw new Error(`${(err as Error).message}; requests unlike the recording: ${JSON.stringify(player.mismatches)}`);
  }
}

/** The data bytes of the read responses whose request starts at `from` (..+span), in order. */
function readData(from: number, span: number): Buffer {
  return Buffer.concat(exchanges.filter((e) => e.request[1] === 3 && e.request.readUInt16BE(2) >= from && e.request.readUInt16BE(2) < from + span)
    .map((e) => e.response.subarray(3, 3 + e.response[2]!)));
}

const word = (address: number) => readData(address, 1).readUInt16BE(0);

describe('the recorded signing exchange (iskra-wm3m4c.signing.hex) replayed on a pty', () => {
  it('is a whole transaction of well-formed RTU frames: key, begin command B from idle, end command r, the signed dataset and its signature', () => {
    expect(exchanges.length).toBeGreaterThanOrEqual(15);
    for (const [i, e] of exchanges.entries()) {
      expect(crcOk(e.request), `request ${i}`).toBe(true);
      expect(crcOk(e.response), `response ${i}`).toBe(true);
      expect(e.response[0], `response ${i} unit`).toBe(1);
      expect(e.response[1], `response ${i} is no exception`).toBe(e.request[1]);
    }
    const commands = exchanges.filter((e) => e.request[1] === 6 && e.request.readUInt16BE(2) === sg.command.address).map((e) => e.request.readUInt16BE(4));
    expect(commands).toEqual([sg.command.begin, sg.command.end]);
    expect(commands.map((c) => String.fromCharCode(c >> 8))).toEqual(['B', 'r']); // the manual's table 15: the command in the high byte
    // No request spans more than the meter's 120 registers (the manual's 6.5.7 and 6.5.10).
    for (const e of exchanges) if (e.request[1] === 3 || e.request[1] === 16) expect(e.request.readUInt16BE(4)).toBeLessThanOrEqual(120);
  });

  it('the driver sends exactly the recorded requests, and the record it builds from the answers verifies with the key it read', async () => {
    const { player, publicKey, begin, end } = await replay(exchanges);
    expect(player.mismatches).toEqual([]);
    expect(player.answered()).toBe(exchanges.length);

    // The key: the 64 bytes X||Y of the key registers under the DER header, read here from the frames.
    expect(publicKey).toBe(P256_SPKI_PREFIX + readData(sg.publicKey.address, sg.publicKey.registers).toString('hex').toUpperCase());
    expect(publicKey).toBe(expected.publicKey);
    // The payload the meter signed, read here from the frames: the dataset registers cut at their length.
    const payload = readData(sg.record.address, sg.record.maxRegisters).subarray(0, word(sg.record.lengthAddress)).toString('utf8');
    const signature = readData(sg.signature.address, sg.signature.maxRegisters).subarray(0, word(sg.signature.lengthAddress)).toString('hex').toUpperCase();
    expect(end.signed!.data).toBe(`OCMF|${payload}|{"SA":"ECDSA-secp256r1-SHA256","SD":"${signature}"}`);
    expect(end.signed!.data).toBe(expected.record);

    const verdict = verifyOcmf(end.signed!.data, publicKey);
    expect(verdict.valid, verdict.valid ? '' : verdict.reason).toBe(true);
    const { payload: p } = parseOcmf(end.signed!.data);
    // The charger's metadata as written at the begin, the meter's own fields added.
    expect(p).toMatchObject({ ...SIGNING_FIXTURE.metadata, MV: 'Iskra', MM: 'WM3M4C', PG: 'T1' });
    expect(p.RD.map((r) => r.TX)).toEqual(['B', 'E']);
    // The signed readings are the plain readings taken at begin and end.
    expect(begin.energyWh).toBeCloseTo(SIGNING_FIXTURE.beginWh, 3);
    expect(end.energyWh).toBeCloseTo(SIGNING_FIXTURE.endWh, 3);
    expect(Math.round(p.RD[0]!.RV * 1000)).toBe(Math.round(begin.energyWh));
    expect(Math.round(p.RD[1]!.RV * 1000)).toBe(Math.round(end.energyWh));
    // Each reading carries the time the charger set before its command (the manual's 6.5.8).
    expect(p.RD.map((r) => r.TM.slice(0, 19))).toEqual(['2026-01-05T08:00:00', '2026-01-05T09:30:00']);
  }, 60_000);

  it('a reading changed on the wire (one digit, CRC recomputed) gives a record that does not verify', async () => {
    const digits = Buffer.from(`"RV":${parseOcmf(expected.record).payload.RD[1]!.RV}`);
    const i = exchanges.findIndex((e) => e.response.includes(digits));
    expect(i).toBeGreaterThan(0);
    const tampered = exchanges.map((e, k) => {
      if (k !== i) return e;
      const response = Buffer.from(e.response);
      const at = response.indexOf(digits) + 5; // the first digit of the value
      response[at] = response[at] === 0x39 ? 0x38 : response[at]! + 1;
      return { ...e, response: withCrc(response) };
    });
    const { player, publicKey, end } = await replay(tampered);
    expect(player.mismatches).toEqual([]);
    expect(publicKey).toBe(expected.publicKey);
    expect(end.signed!.data).not.toBe(expected.record);
    expect(verifyOcmf(end.signed!.data, publicKey).valid).toBe(false);
  }, 60_000);
});
