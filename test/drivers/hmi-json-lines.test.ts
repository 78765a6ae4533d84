import { afterEach, describe, expect, it } from 'vitest';
import type { FaultReport, PresentedToken } from '../../src/core/ports.js';
import { JsonLinesDecoder, JsonLinesHmi, createHmi } from '../../src/drivers/hmi/index.js';
import { startPtyPair, waitFor, writeAll, type PtyPair } from '../helpers/pty.js';

describe('JSON-lines codec', () => {
  it('decodes split and concatenated lines, counting malformed and unknown ones', () => {
    const d = new JsonLinesDecoder();
    const text = '{"type":"code","code":"1234"}\r\n{"type":"code","code":"77","connectorId":2}\nnot json\n{"type":"later"}\n{"type":"code","code":"has space"}\n{"type":"hello"}\n';
    const msgs = [...Buffer.from(text)].flatMap((b) => d.push(Buffer.from([b])));
    expect(msgs).toEqual([
      { type: 'code', code: '1234' },
      { type: 'code', code: '77', connectorId: 2 },
      { type: 'hello' },
    ]);
    expect(d.stats).toEqual({ messages: 3, malformed: 2, unknown: 1 });
  });
});

describe('JsonLinesHmi over a socat pty pair', () => {
  let pair: PtyPair | undefined;
  let hmi: JsonLinesHmi | undefined;
  afterEach(async () => {
    await hmi?.stop();
    await pair?.cleanup();
    hmi = pair = undefined;
  });

  it('codes become touchscreen tokens; show() and hello send connector lines; unplug is a fault', async () => {
    pair = await startPtyPair();
    let screen = await pair.openDevice();
    let lines: unknown[] = [];
    const listen = (port: typeof screen) => {
      let pending = '';
      port.on('data', (c: Buffer) => {
        pending += c.toString('utf8');
        for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
          lines.push(JSON.parse(pending.slice(0, i)));
          pending = pending.slice(i + 1);
        }
      });
    };
    listen(screen);
    hmi = createHmi({ driver: 'json-lines', port: pair.host, connectors: [1], reopen: { initialDelayMs: 20, maxDelayMs: 100 } }) as JsonLinesHmi;
    const tokens: PresentedToken[] = [];
    const faults: FaultReport[] = [];
    hmi.onToken((t) => tokens.push(t));
    hmi.onFault((f) => faults.push(f));
    await hmi.start();
    await waitFor(() => lines.length === 1, 'hello');
    expect(lines[0]).toEqual({ type: 'hello', protocol: 'evse-edge-hmi/1' });

    await writeAll(screen, '{"type":"code","code":"2468"}\n{"type":"code","code":"1357","connectorId":3}\n');
    await waitFor(() => tokens.length === 2, 'tokens');
    expect(tokens).toEqual([
      { token: { id: '2468', type: 'KeyCode' }, method: 'touchscreen', evseId: 1 },
      { token: { id: '1357', type: 'KeyCode' }, method: 'touchscreen', evseId: 3 },
    ]);

    hmi.show({ connectorId: 1, status: 'Charging', energyWh: 1500, powerW: 11000, cost: 0.42 });
    await waitFor(() => lines.length === 2, 'connector line');
    expect(lines[1]).toEqual({ type: 'connector', connectorId: 1, status: 'Charging', energyWh: 1500, powerW: 11000, cost: 0.42 });

    // The message area: a message line, an emptied one without text; unchanged ones not sent again,
    // nor an empty area that never showed anything (connector 3).
    hmi.showMessage({ connectorId: 3 });
    hmi.showMessage({ connectorId: 2, text: 'Bye' });
    hmi.showMessage({ connectorId: 1, text: 'Grüße – 0,39 €/kWh', priority: 'InFront', language: 'de' });
    hmi.showMessage({ connectorId: 1, text: 'Grüße – 0,39 €/kWh', priority: 'InFront', language: 'de' });
    hmi.showMessage({ connectorId: 2 });
    await waitFor(() => lines.length === 5, 'message lines');
    expect(lines.slice(2)).toEqual([
      { type: 'message', connectorId: 2, text: 'Bye' },
      { type: 'message', connectorId: 1, text: 'Grüße – 0,39 €/kWh', priority: 'InFront', language: 'de' },
      { type: 'message', connectorId: 2 },
    ]);

    await pair.unplug();
    await waitFor(() => faults.length === 1, 'fault');
    expect(faults[0]).toMatchObject({ source: 'hmi', errorCode: 'ReaderFailure', active: true });
    await pair.plug();
    screen = await pair.openDevice();
    lines = [];
    listen(screen);
    await waitFor(() => faults.length === 2, 'cleared');
    await writeAll(screen, '{"type":"hello"}\n');
    await waitFor(() => lines.some((l) => (l as { type: string }).type === 'connector'), 'state again');
    expect(lines).toContainEqual({ type: 'connector', connectorId: 1, status: 'Charging', energyWh: 1500, powerW: 11000, cost: 0.42 });
    await waitFor(() => lines.some((l) => (l as { type: string }).type === 'message'), 'message again');
    // Each refresh (the link coming up, the hello) sends the areas that show something: connector 1's, not the emptied one.
    const again = lines.filter((l) => (l as { type: string }).type === 'message');
    expect(new Set(again.map((l) => JSON.stringify(l)))).toEqual(new Set([JSON.stringify({ type: 'message', connectorId: 1, text: 'Grüße – 0,39 €/kWh', priority: 'InFront', language: 'de' })]));
  });
});
