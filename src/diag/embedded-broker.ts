import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { EvseError } from '../lib/errors.js';

/**
 * An in-process MQTT broker (aedes, MQTT 3.1.1) on loopback: for the demo and a laptop on a
 * single charger. Production uses a real broker.
 */
export class EmbeddedBroker {
  private broker?: Aedes;
  private server?: Server;

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.broker = await Aedes.createBroker();
    this.server = createServer(this.broker.handle);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server!.once('error', reject);
        this.server!.listen(port, host, () => resolve());
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await new Promise<void>((r) => this.broker!.close(() => r()));
      throw new EvseError('ERR_EMBEDDED_BROKER', e.code === 'EADDRINUSE'
        ? `the embedded MQTT broker cannot listen on ${host}:${port}: the port is in use (another broker?); choose another mqtt.embeddedPort`
        : `the embedded MQTT broker cannot listen on ${host}:${port}: ${e.message}`);
    }
    return `mqtt://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await new Promise<void>((r) => (this.broker ? this.broker.close(() => r()) : r()));
  }
}
