/**
 * The MQTT contract of evse-edge diagnostics: every topic under the prefix
 * (default `evse/<chargePointId>`) and what it carries. One typed map, as zigbee2mqtt does.
 */
export interface ConnectorState {
  connectorId: number;
  status: string;
  errorCode: string;
  sessionEnergyWh: number | null;
  powerW: number | null;
  sessionDurationS: number | null;
}

export interface DiagEvent {
  type: 'fault-raised' | 'fault-cleared' | 'session-started' | 'session-stopped' | 'boot' | 'reconnect' | 'disconnect' | 'dead-letter' | 'session-unsynced' | 'auth-refused';
  at: string;
  connectorId?: number;
  /** Keyed pseudonym of the idTag; never the idTag itself. */
  customerRef?: string;
  [field: string]: unknown;
}

export interface Envelope<T = unknown> {
  status: 'ok' | 'error';
  data?: T;
  error?: { code: string; message: string };
  correlation: string | null;
}

export interface Topics {
  state: 'online' | 'offline';
  info: Record<string, unknown>;
  health: Record<string, unknown>;
  connector: ConnectorState;
  event: DiagEvent;
}

export function topicsFor(prefix: string) {
  const p = prefix.replace(/\/+$/, '');
  return {
    state: `${p}/state`,
    info: `${p}/info`,
    health: `${p}/health`,
    connector: (n: number) => `${p}/connector/${n}`,
    event: `${p}/event`,
    /**
     * Requests: `request/<noun>/<verb>`, the requester named in a `user` property or field (a
     * claim), or `request/<login>/<noun>/<verb>`, the level after `request/` the requester's broker
     * login, which the broker's ACL binds to the connection (mosquitto:
     * `pattern write evse/+/request/%u/#`).
     */
    requestFilter: `${p}/request/#`,
    /** For MQTT 3.1.1 clients, which have no Response Topic: readable by that login alone. */
    response: (login: string | null, noun: string, verb: string) => (login ? `${p}/response/${login}/${noun}/${verb}` : `${p}/response/${noun}/${verb}`),
    parseRequest(topic: string): { login: string | null; noun: string; verb: string } | undefined {
      const m = new RegExp(`^${escape(p)}/request/(?:([^/]+)/)?([^/]+)/([^/]+)$`).exec(topic);
      return m ? { login: m[1] ?? null, noun: m[2]!, verb: m[3]! } : undefined;
    },
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
