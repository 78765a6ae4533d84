import type { KeyObject } from 'node:crypto';
import type { Clock, EvseHardware, FaultSource, IdReader, Meter, PowerPath } from '../../core/ports.js';
import { connectorPhases, type DeviceConfig, type LoadedAgentConfig } from '../../config/index.js';
import type { Hmi } from '../../drivers/hmi/index.js';
import type { EvseBoard, ModbusBus, ModbusMeter } from '../../drivers/modbus/index.js';
import { loadEvseProfile, type EvseProfile } from '../../drivers/modbus/evse-profile.js';
import { loadMeterProfile, READING_MEASURANDS, type MeterProfile } from '../../drivers/modbus/meter-profile.js';
import { OFFERED_MEASURANDS } from '../../ocpp/v16/configuration.js';
import type { SerialRfidReader } from '../../drivers/rfid/index.js';
import { ConfigError } from '../../lib/errors.js';
import type { Log } from '../../lib/log.js';
import type { Pseudonymiser } from '../../lib/pseudonym.js';
import { Prng, SIM_MEASURANDS, SimConnector, SimIdReader, seedOf } from '../../sim/index.js';

type ModbusDevice = Exclude<DeviceConfig, { driver: 'sim' }>;

/** Profiles named in the config, loaded up front so a bad one stops the agent before it starts. */
export interface ResolvedHardware {
  meters: Map<number, { device: ModbusDevice; profile: MeterProfile }>;
  boards: Map<number, { device: ModbusDevice; profile: EvseProfile }>;
}

export function resolveHardware(loaded: LoadedAgentConfig): ResolvedHardware {
  const out: ResolvedHardware = { meters: new Map(), boards: new Map() };
  const problems: { file: string; path: string; message: string }[] = [];
  loaded.config.connectors?.forEach((c, i) => {
    for (const kind of ['meter', 'evse'] as const) {
      const device = c[kind];
      if (!device || device.driver === 'sim') continue;
      try {
        if (kind === 'meter') out.meters.set(c.id, { device, profile: loadMeterProfile(device.profile) });
        else out.boards.set(c.id, { device, profile: loadEvseProfile(device.profile) });
      } catch (err) {
        const detail = err instanceof ConfigError ? err.problems.map((p) => `${p.path ? p.path + ': ' : ''}${p.message}`).join('; ') : (err as Error).message;
        problems.push({ file: loaded.file, path: `connectors[${i}].${kind}.profile`, message: detail });
      }
    }
  });
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/**
 * The measurands this charger can put in a MeterValue: what its meters give (a Modbus meter's
 * profile, a simulated connector's meter and vehicle), on any connector, and what it offers.
 */
export function producibleMeasurands(loaded: LoadedAgentConfig, resolved: ResolvedHardware): string[] {
  const out = new Set<string>(OFFERED_MEASURANDS);
  for (const c of loaded.charger.connectors) {
    const m = resolved.meters.get(c.id);
    if (!m) for (const x of SIM_MEASURANDS) out.add(x);
    else for (const v of m.profile.values) if ((READING_MEASURANDS as readonly string[]).includes(v.measurand)) out.add(v.measurand);
  }
  return [...out];
}

export interface Hardware {
  /** One per configured connector: connector n of the configuration is EVSE n. */
  evses: EvseHardware[];
  readers: IdReader[];
  faultSources: FaultSource[];
  /** Simulated parts, for the demo, tests and technicians' bring-up. */
  sim: { connectors: Map<number, SimConnector>; reader: SimIdReader };
  modbus: Map<number, { meter?: ModbusMeter; board?: EvseBoard; bus?: ModbusBus; unitId?: number }>;
  hmi?: Hmi;
  rfid: SerialRfidReader[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The charger's hardware from the config: Modbus meters and EVSE boards per connector (buses
 * shared by port), serial readers and the touchscreen; whatever is not configured is simulated.
 * A driver is loaded only if the config names a device of it (a simulated charger loads none).
 */
export async function buildHardware(
  loaded: LoadedAgentConfig,
  resolved: ResolvedHardware,
  deps: {
    clock: Clock; physicsClock: Clock; log: Log; pseudonym: Pseudonymiser; sim: Hardware['sim'];
    /** A simulated signing meter's key (simulation.signedMeters). */
    meterKey?: (connectorId: number) => KeyObject;
    /** Its pagination counter, kept across restarts. */
    meterPages?: { first(connectorId: number): number; save(connectorId: number, next: number): void };
  },
): Promise<Hardware> {
  const { config, charger } = loaded;
  // Undefined when the config names no device of the driver (and then never used).
  const modbusDriver = resolved.meters.size || resolved.boards.size ? await import('../../drivers/modbus/index.js') : undefined;
  const rfidDriver = config.readers?.length ? await import('../../drivers/rfid/index.js') : undefined;
  const hmiDriver = config.touchscreen ? await import('../../drivers/hmi/index.js') : undefined;
  const buses = new Map<string, ModbusBus>();
  const busFor = (d: ModbusDevice): ModbusBus => {
    const key = d.driver === 'modbus-rtu' ? `rtu:${d.port}` : `tcp:${d.host}:${d.port}`;
    let bus = buses.get(key);
    if (!bus) {
      bus = d.driver === 'modbus-rtu'
        ? new modbusDriver!.ModbusBus({ kind: 'rtu', path: d.port, baudRate: d.baudRate, parity: d.parity, stopBits: d.stopBits === '2' ? 2 : 1 })
        : new modbusDriver!.ModbusBus({ kind: 'tcp', host: d.host, port: d.port });
      buses.set(key, bus);
    }
    return bus;
  };
  const sim = charger.simulation;
  const seed = config.simulation?.seed ?? seedOf(config.chargePointId);
  const prng = new Prng(seed);
  const evses: EvseHardware[] = [];
  const faultSources: FaultSource[] = [];
  const modbus: Hardware['modbus'] = new Map();
  const startables: { start(): void | Promise<void>; stop(): void | Promise<void> }[] = [];

  for (const c of charger.connectors) {
    const phases = connectorPhases(c);
    let simConnector = deps.sim.connectors.get(c.id);
    if (!simConnector) {
      simConnector = new SimConnector({
        clock: deps.physicsClock, phases, dc: c.phases === 'DC', nominalVoltageV: c.nominalVoltageV, maxCurrentA: c.maxCurrentA,
        initialEnergyWh: prng.int(100_000, 5_000_000), seed: seed + c.id,
        arrivalDelayMs: config.simulation?.arrivalDelayMs ?? sim?.arrivalDelayMs ?? 2_000,
        departureDelayMs: config.simulation?.departureDelayMs ?? sim?.departureDelayMs ?? 5_000,
        vehicle: () => {
          const v = sim?.vehicle ?? { batteryWh: 60_000, maxPowerW: 11_000, socPctMin: 20, socPctMax: 60, targetSocPct: 90 };
          return { batteryWh: v.batteryWh, maxPowerW: v.maxPowerW, socPct: prng.between(v.socPctMin, v.socPctMax), targetSocPct: v.targetSocPct };
        },
        ...(config.simulation?.signedMeters && deps.meterKey && !resolved.meters.has(c.id)
          ? {
            signing: {
              privateKey: deps.meterKey(c.id), serial: `${config.chargePointId}-M${c.id}`, chargerId: config.chargePointId, signsIntervals: config.simulation.signedIntervals,
              ...(deps.meterPages ? { firstPage: deps.meterPages.first(c.id), onPage: (next: number) => deps.meterPages!.save(c.id, next) } : {}),
            },
          }
          : {}),
      });
      deps.sim.connectors.set(c.id, simConnector);
    }
    let meter: Meter = simConnector.meter;
    let powerPath: PowerPath = simConnector.powerPath;
    const entry: { meter?: ModbusMeter; board?: EvseBoard; bus?: ModbusBus; unitId?: number } = {};
    const m = resolved.meters.get(c.id);
    if (m) {
      const bus = busFor(m.device);
      const real = new modbusDriver!.ModbusMeter({
        bus, profile: m.profile, unitId: m.device.unitId, connectorId: c.id, timeoutMs: m.device.timeoutMs, retries: m.device.retries,
        clock: deps.clock, log: deps.log.child({ component: 'meter', connectorId: c.id }),
        // A signing meter's records name the charger (OCMF gateway fields); no customer data.
        ocmfMetadata: { FV: '1.0', GI: 'evse-edge', GS: config.chargePointId, IS: false, IT: 'NONE', CT: 'EVSEID', CI: `${config.chargePointId}*${c.id}` },
      });
      meter = real;
      faultSources.push(real);
      Object.assign(entry, { meter: real, bus, unitId: m.device.unitId });
    }
    const b = resolved.boards.get(c.id);
    if (b) {
      const real = new modbusDriver!.EvseBoard({
        bus: busFor(b.device), profile: b.profile, unitId: b.device.unitId, connectorId: c.id, timeoutMs: b.device.timeoutMs,
        retries: b.device.retries, clock: deps.clock, log: deps.log.child({ component: 'evse', connectorId: c.id }),
      });
      powerPath = real;
      faultSources.push(real);
      startables.push(real);
      entry.board = real;
      entry.bus ??= busFor(b.device);
    }
    if (entry.meter || entry.board) modbus.set(c.id, entry);
    evses.push({ evseId: c.id, meter, powerPath, maxCurrentA: c.maxCurrentA, phases, nominalVoltageV: c.nominalVoltageV, maxPowerW: c.maxPowerW });
  }

  const rfid: SerialRfidReader[] = rfidDriver
    ? rfidDriver.createRfidReaders(
      (config.readers ?? []).map((r) => ({
        driver: 'serial' as const, port: r.port, protocol: r.protocol, baudRate: r.baudRate,
        ...(r.connectors ? { connectors: [...r.connectors] } : {}), uid: { byteOrder: r.uidByteOrder },
      })),
      { clock: deps.clock, log: deps.log.child({ component: 'reader' }), pseudonym: deps.pseudonym },
    )
    : [];
  const readers: IdReader[] = [deps.sim.reader, ...rfid];
  for (const r of rfid) {
    faultSources.push(r);
    startables.push(r);
  }
  let hmi: Hmi | undefined;
  if (config.touchscreen) {
    const t = config.touchscreen;
    hmi = hmiDriver!.createHmi({
      driver: t.driver, port: t.port, baudRate: t.baudRate, connectors: charger.connectors.map((c) => c.id),
      ...(t.driver === 'json-lines' && t.messageFormats ? { messageFormats: t.messageFormats } : {}),
      ...(t.driver === 'nextion' ? {
        ...(t.encoding ? { encoding: t.encoding } : {}), ...(t.currency ? { currency: t.currency } : {}),
        ...(t.fields ? { fields: t.fields } : {}), ...(t.pin ? { pin: t.pin } : {}),
      } : {}),
    } as never, {
      clock: deps.clock, log: deps.log.child({ component: 'hmi' }),
    });
    readers.push(hmi);
    faultSources.push(hmi);
    startables.push(hmi);
  }

  return {
    evses, readers, faultSources, sim: deps.sim, modbus, hmi, rfid,
    async start() {
      for (const s of startables) await s.start();
    },
    async stop() {
      for (const s of [...startables].reverse()) await s.stop();
      for (const bus of buses.values()) await bus.stop();
    },
  };
}
