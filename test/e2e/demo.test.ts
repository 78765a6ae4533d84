import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/app/demo.js';

describe('demo (what npm start runs)', () => {
  it('runs a card session and an app session end to end and prints the central system table', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d.toString()));
    const result = await runDemo({ out, chargeMs: 1_500 });
    expect(result.transactions).toBe(2);
    expect(result.energyWh).toBeGreaterThan(0);
    expect(text).toMatch(/connector 1: Charging/);
    expect(text).toMatch(/connector 2: Charging/);
    expect(text).toMatch(/"StartTransaction"/);
    expect(text).toMatch(/Sessions recorded by the central system/);
    expect(text).toMatch(/\bLocal\b/);
    expect(text).toMatch(/\bRemote\b/);
    // idTags never appear in clear in what the demo shows.
    expect(text).not.toMatch(/DEMO0001"|DEMO0002"/);
  });

  it('runs the same two sessions on OCPP 2.0.1: TransactionEvents, RequestStart/StopTransaction, 2.0.1 statuses', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d.toString()));
    const result = await runDemo({ out, chargeMs: 1_500, ocpp: '2.0.1' });
    expect(result.transactions).toBe(2);
    expect(result.energyWh).toBeGreaterThan(0);
    expect(text).toMatch(/evse 1: Occupied \(Charging\)/);
    expect(text).toMatch(/evse 2: Occupied \(Charging\)/);
    expect(text).toMatch(/"TransactionEvent"/);
    expect(text).toMatch(/"eventType":"Started"/);
    expect(text).toMatch(/RequestStartTransaction/);
    expect(text).toMatch(/RequestStopTransaction/);
    expect(text).not.toMatch(/"StartTransaction"/);
    // The table: a version column, EVSE/connector, one Remote stop and the card's stop.
    expect(text).toMatch(/Sessions recorded by the central system/);
    expect(text).toMatch(/^\s*ocpp\b/m);
    expect(text).toMatch(/\b2\.0\.1\b.*\bRemote\b/);
    expect(text).not.toMatch(/DEMO0001"|DEMO0002"/);
  });
});
