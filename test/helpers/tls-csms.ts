import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TestCsms, type TestProtocol } from './ocpp-server.js';

/**
 * TestCsms behind TLS: an https server (profile 2, or 3 with `clientCa`) whose upgrades go to
 * the ocpp-rpc server. `tls` overrides the server's TLS options (old versions, weak suites).
 */
export class TlsTestCsms extends TestCsms {
  https?: Server;
  readonly tlsErrors: string[] = [];
  /** The client certificate CN of each accepted connection (profile 3). */
  readonly clientCns: string[] = [];
  /** The client certificate serial number of each accepted connection (profile 3). */
  readonly clientSerials: string[] = [];

  constructor(private readonly pem: { cert: string; key: string; clientCa?: string; tls?: ServerOptions; protocol?: TestProtocol }) {
    super({ protocol: pem.protocol ?? 'ocpp1.6' });
  }

  async startTls(): Promise<string> {
    await this.start();
    const { cert, key, clientCa, tls } = this.pem;
    this.https = createServer({
      cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2',
      ...(clientCa ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(clientCa) } : {}),
      ...tls,
    });
    this.https.on('tlsClientError', (err: NodeJS.ErrnoException) => this.tlsErrors.push(err.code ?? err.message));
    this.https.on('upgrade', (req, socket, head) => {
      if (clientCa) {
        const peer = (socket as TLSSocket).getPeerCertificate();
        this.clientCns.push(String(peer.subject?.CN));
        this.clientSerials.push(String(peer.serialNumber));
      }
      this.server.handleUpgrade(req, socket, head);
    });
    await new Promise<void>((resolve) => this.https!.listen(0, '127.0.0.1', resolve));
    return `wss://127.0.0.1:${(this.https.address() as AddressInfo).port}/ocpp`;
  }

  override async stop(): Promise<void> {
    await super.stop();
    if (this.https) {
      this.https.closeAllConnections();
      await new Promise<void>((resolve) => this.https!.close(() => resolve()));
    }
  }
}
