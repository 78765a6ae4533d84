import { afterEach, describe, expect, it } from 'vitest';
import { SerialLink, type LinkEvent } from '../../src/drivers/serial-link.js';
import { startPtyPair, waitFor, writeAll, type PtyPair } from '../helpers/pty.js';

const fast = { initialDelayMs: 20, maxDelayMs: 100, factor: 2 };

describe('SerialLink over a socat pty pair', () => {
  let pair: PtyPair | undefined;
  let link: SerialLink | undefined;
  afterEach(async () => {
    await link?.stop();
    await pair?.cleanup();
    link = pair = undefined;
  });

  it('carries bytes both ways, reports an unplug, reopens on replug', async () => {
    pair = await startPtyPair();
    const events: LinkEvent['state'][] = [];
    const received: Buffer[] = [];
    link = new SerialLink({ path: pair.host, baudRate: 9600, reopen: fast });
    link.onState((e) => events.push(e.state));
    link.onData((c) => received.push(c));
    await link.start();
    expect(events).toEqual(['up']);

    const device = await pair.openDevice();
    const fromHost: Buffer[] = [];
    device.on('data', (c: Buffer) => fromHost.push(c));
    await writeAll(device, Buffer.from('hello'));
    await waitFor(() => Buffer.concat(received).toString() === 'hello', 'bytes from the device');
    await link.write(Buffer.from('world'));
    await waitFor(() => Buffer.concat(fromHost).toString() === 'world', 'bytes from the host');

    await pair.unplug();
    await waitFor(() => events.length === 2, 'down');
    expect(events).toEqual(['up', 'down']);
    await expect(link.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_SERIAL_NOT_OPEN' });

    await pair.plug();
    await waitFor(() => events.length === 3, 'up again');
    expect(events).toEqual(['up', 'down', 'up']);
    const again = await pair.openDevice();
    received.length = 0;
    await writeAll(again, Buffer.from('back'));
    await waitFor(() => Buffer.concat(received).toString() === 'back', 'bytes after replug');
  });

  it('starts without its device, reports it once, and opens it when it appears', async () => {
    pair = await startPtyPair();
    await pair.unplug();
    const events: LinkEvent['state'][] = [];
    link = new SerialLink({ path: pair.host, baudRate: 9600, reopen: fast });
    link.onState((e) => events.push(e.state));
    await link.start();
    expect(events).toEqual(['down']);
    expect(link.isOpen).toBe(false);
    await pair.plug();
    await waitFor(() => link!.isOpen, 'open');
    expect(events).toEqual(['down', 'up']);
  });

  it('stop() cancels the pending reopen', async () => {
    pair = await startPtyPair();
    await pair.unplug();
    const pending = new Set<number>();
    let seq = 0;
    const clock = {
      setTimeout(fn: () => void, ms: number) {
        const id = ++seq;
        pending.add(id);
        const t = setTimeout(() => { pending.delete(id); fn(); }, ms);
        return { cancel: () => { pending.delete(id); clearTimeout(t); } };
      },
    };
    link = new SerialLink({ path: pair.host, baudRate: 9600, reopen: fast, clock });
    await link.start();
    expect(pending.size).toBe(1);
    await link.stop();
    expect(pending.size).toBe(0);
    expect(link.isOpen).toBe(false);
  });
});
