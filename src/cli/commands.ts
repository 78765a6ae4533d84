import type { Command } from 'commander';

/**
 * The commands of `evse-edge`, each loaded only when it runs: `--version`, `--help` and one
 * command's run load no other command's modules (OCPP, SQLite, MQTT, serial ports). The
 * summary is what the top-level help lists; a test checks it against the command's own.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<() => Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'agent', summary: 'run the edge agent for one charger', load: async () => (await import('./agent.js')).agentCommand },
  { name: 'csms', summary: 'run the embedded development central system (ws://HOST:PORT/ocpp/<chargePointId>)', load: async () => (await import('./csms.js')).csmsCommand },
  { name: 'demo', summary: 'run the embedded central system and one simulated charger through two sessions', load: async () => (await import('./demo.js')).demoCommand },
  { name: 'diag', summary: 'send a diagnostics request to a charger over MQTT and print the answer', load: async () => (await import('./diag.js')).diagCommand },
  { name: 'sim', summary: 'run a fleet of simulated chargers (the same core and OCPP stack as the agent) against a central system', load: async () => (await import('./sim.js')).simCommand },
  { name: 'modbus', summary: 'read meters and find devices on a Modbus bus', load: async () => (await import('./modbus.js')).modbusCommand },
  { name: 'rfid', summary: 'RFID reader bring-up', load: async () => (await import('./rfid.js')).rfidCommand },
  { name: 'sessions', summary: 'session records: list, export, show, erase, purge', load: async () => (await import('./sessions.js')).sessionsCommand },
  { name: 'ocmf', summary: 'signed meter values (OCMF): verify records or a sessions export', load: async () => (await import('./ocmf.js')).ocmfCommand },
  { name: 'schemas', summary: 'write the JSON Schemas of the config file and the profiles to profiles/schema', load: async () => (await import('./schema.js')).schemaCommand },
  { name: 'install', summary: 'install the agent as a systemd service: user, unit, starter config (run as root)', load: async () => (await import('./install.js')).installCommand },
  { name: 'doctor', summary: 'check a controller: config, serial ports, central system (TLS, WebSocket upgrade, subprotocol, Basic auth), database, clock, broker', load: async () => (await import('./doctor.js')).doctorCommand },
];

/**
 * The command a command line runs: its first word that is not an option (`help <command>`
 * names it too). Only `-h`/`--help` and `-V`/`--version` are options before a command.
 */
export function commandOf(args: readonly string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}
