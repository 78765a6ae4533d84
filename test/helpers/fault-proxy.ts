import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * How the proxy treats traffic:
 * - pass: forward both ways;
 * - blackhole: forward nothing, close nothing: both sides see a silent partition. Bytes sent
 *   meanwhile wait in the socket buffers (TCP would retransmit them) and flow when the
 *   partition ends; new connections are accepted and then left silent;
 * - reset: every open connection and every new one is reset (RST);
 * - latency: forward both ways, each chunk delayed by `latencyMs` in each direction (a round
 *   trip gains twice that). Switch back to pass only when the line is quiet, or a late chunk
 *   may be overtaken.
 */
export type FaultMode = 'pass' | 'blackhole' | 'reset' | 'latency';

interface Pair {
  client: Socket;
  upstream?: Socket;
  /** One side closed while partitioned: the other is torn down when the partition ends. */
  halfDead: boolean;
}

/** A TCP proxy between an agent and its central system, for network faults. Listens on 127.0.0.1, port 0. */
export class FaultProxy {
  private server?: Server;
  private readonly pairs = new Set<Pair>();
  private modeNow: FaultMode = 'pass';
  private latencyMs = 0;
  port = 0;
  /** Connections accepted since start. */
  accepted = 0;

  constructor(private target: { host: string; port: number }) {}

  /** Send new connections elsewhere (a central system restarted on another port). */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  get mode(): FaultMode {
    return this.modeNow;
  }

  /** ws://127.0.0.1:<port><path>: the URL the agent should use. */
  url(path = '/ocpp'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  async start(): Promise<this> {
    this.server = createServer({ noDelay: true }, (client) => this.onClient(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  setMode(mode: FaultMode, opts: { latencyMs?: number } = {}): void {
    this.modeNow = mode;
    this.latencyMs = mode === 'latency' ? (opts.latencyMs ?? 100) : 0;
    for (const p of [...this.pairs]) {
      if (mode === 'reset') {
        this.resetPair(p);
      } else if (mode === 'blackhole') {
        // Nothing is read, so nothing is forwarded and no FIN passes: the kernel buffers hold
        // what was sent, as TCP retransmissions would during a partition.
        p.client.pause();
        p.upstream?.pause();
      } else if (p.halfDead) {
        // The partition is over: a connection whose other side went away meanwhile gets an
        // RST, as its next segment would in a real network.
        this.resetPair(p);
      } else {
        if (!p.upstream) this.connectUpstream(p);
        p.client.resume();
        p.upstream!.resume();
      }
    }
  }

  pass(): void { this.setMode('pass'); }
  blackhole(): void { this.setMode('blackhole'); }
  reset(): void { this.setMode('reset'); }
  latency(ms: number): void { this.setMode('latency', { latencyMs: ms }); }

  private onClient(client: Socket): void {
    this.accepted++;
    const pair: Pair = { client, halfDead: false };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => this.onSideClosed(pair, 'client'));
    if (this.modeNow === 'reset') {
      this.resetPair(pair);
      return;
    }
    if (this.modeNow === 'blackhole') {
      // Accepted, then silence: the handshake waits until the partition ends.
      client.pause();
      return;
    }
    this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = createConnection({ host: this.target.host, port: this.target.port, noDelay: true });
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.onSideClosed(pair, 'upstream'));
    this.pipe(pair, pair.client, upstream);
    this.pipe(pair, upstream, pair.client);
    if (this.modeNow === 'blackhole') upstream.pause();
  }

  private pipe(pair: Pair, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.modeNow === 'reset') return;
      if (this.modeNow === 'blackhole') {
        // Read before the pause took effect: hold it back until the partition ends.
        from.pause();
        from.unshift(chunk);
        return;
      }
      if (this.latencyMs > 0) {
        const t = setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, this.latencyMs);
        t.unref();
      } else if (!to.destroyed) {
        to.write(chunk);
      }
    });
    from.on('end', () => {
      if (!to.destroyed) to.end();
    });
  }

  private onSideClosed(pair: Pair, side: 'client' | 'upstream'): void {
    const other = side === 'client' ? pair.upstream : pair.client;
    if (this.modeNow === 'blackhole' && other && !other.destroyed) {
      // A partition does not carry the FIN: the other side keeps its dead connection.
      pair.halfDead = true;
      return;
    }
    other?.destroy();
    this.pairs.delete(pair);
  }

  private resetPair(pair: Pair): void {
    this.pairs.delete(pair);
    for (const s of [pair.client, pair.upstream]) {
      if (s && !s.destroyed) {
        if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
        else s.destroy();
      }
    }
  }

  /** Close every connection (RST) and stop listening. */
  async stop(): Promise<void> {
    for (const p of [...this.pairs]) this.resetPair(p);
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}
