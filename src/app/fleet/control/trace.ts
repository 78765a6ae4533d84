import type { TraceFrame } from './protocol.js';

export const traceDefaults = { frames: 200, maxFrames: 10_000 } as const;

/**
 * The last N OCPP-J frames of one charger, both directions, with the latency of each answer to
 * its CALL. Kept only while a charger is traced: the connection emits its traffic only to a
 * listener, so an untraced charger pays nothing per message (not even the frame's string).
 */
export class FrameTrace {
  private readonly ring: TraceFrame[] = [];
  private next = 0;
  /** When each CALL still unanswered was seen, by direction and message id. */
  private readonly callsAt = new Map<string, number>();

  constructor(readonly size: number = traceDefaults.frames, private readonly onFrame?: (f: TraceFrame) => void) {
    this.size = Math.max(1, Math.min(traceDefaults.maxFrames, Math.floor(size)));
  }

  /** A frame as the connection saw it (its text). */
  record(direction: 'in' | 'out', message: string, nowMs = Date.now()): void {
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      frame = message;
    }
    const f: TraceFrame = { at: new Date(nowMs).toISOString(), direction, frame };
    if (Array.isArray(frame) && typeof frame[1] === 'string') {
      const type = frame[0];
      const id = frame[1];
      if (type === 2) {
        this.callsAt.set(`${direction}:${id}`, nowMs);
        // Calls never answered (a dropped link) must not pile up.
        if (this.callsAt.size > this.size) this.callsAt.delete(this.callsAt.keys().next().value!);
      } else if (type === 3 || type === 4) {
        // An answer going out answers a CALL that came in, and the reverse.
        const key = `${direction === 'in' ? 'out' : 'in'}:${id}`;
        const t0 = this.callsAt.get(key);
        if (t0 !== undefined) {
          f.latencyMs = nowMs - t0;
          this.callsAt.delete(key);
        }
      }
    }
    if (this.ring.length < this.size) this.ring.push(f);
    else this.ring[this.next] = f;
    this.next = (this.next + 1) % this.size;
    this.onFrame?.(f);
  }

  /** The frames kept, oldest first. */
  frames(): TraceFrame[] {
    return this.ring.length < this.size ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
