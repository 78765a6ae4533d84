import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { UsageError } from '../lib/errors.js';
import { Command, InvalidArgumentError } from 'commander';
import { customerRefOf, openStore, retentionDays, writeExport, type SessionReportRow, type StoreOptions } from '../app/sessions.js';
import { formatTable } from '../lib/table.js';

const when = (v: string) => {
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new InvalidArgumentError('expected an ISO-8601 date or time');
  return t;
};

/** synced: acknowledged; UNSYNCED: dead-lettered, the central system will not have it by itself; no: still queued. */
const syncedCell = (r: SessionReportRow) => (r.synced ? 'yes' : r.unsynced ? 'UNSYNCED' : 'no');

const storeOptions = (c: Command) => c.option('--config <file>', "the agent's config file (finds the database)").option('--db <file>', 'the database file');

/** The station owner's report, portability, retention and erasure. */
export function sessionsCommand(): Command {
  const cmd = new Command('sessions').description('session records: list, export, show, erase, purge');
  storeOptions(cmd.command('list'))
    .description('one line per session (never an idTag)')
    .option('--from <time>', 'sessions started at or after', when)
    .option('--to <time>', 'sessions started before', when)
    .option('--format <f>', 'table, csv or json', 'table')
    .action(async (o: StoreOptions & { from?: number; to?: number; format: string }) => {
      const s = openStore(o);
      try {
        if (o.format === 'csv' || o.format === 'json') {
          await writeExport(s.records, { fromMs: o.from, toMs: o.to }, o.format, process.stdout);
          return;
        }
        const rows = [...s.records.iterate({ fromMs: o.from, toMs: o.to })];
        process.stdout.write(formatTable(['local id', 'conn', 'tx', 'started', 'stopped', 'Wh', 'cost', 'auth', 'reason', 'customer', 'synced'],
          rows.map((r) => [r.localId.slice(0, 8), r.connectorId, r.transactionId, r.startedAt, r.stoppedAt ?? '(running)', r.energyWh, r.cost ? `${r.cost} ${r.currency}` : '', r.authMethod, r.stopReason, r.customerRef, syncedCell(r)])) + '\n');
        const unsynced = rows.filter((r) => r.unsynced).length;
        if (unsynced) process.stderr.write(`${unsynced} session(s) UNSYNCED: the central system refused their StartTransaction or StopTransaction (dead letters); their energy is not billed. Fix the cause, then requeue them (MQTT request outbox/retry).\n`);
      } finally {
        s.close();
      }
    });
  storeOptions(cmd.command('export'))
    .description('machine-readable export, streamed (JSON includes each meter curve)')
    .option('--from <time>', 'sessions started at or after', when)
    .option('--to <time>', 'sessions started before', when)
    .option('--format <f>', 'csv or json', 'json')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o: StoreOptions & { from?: number; to?: number; format: string; out?: string }) => {
      if (o.format !== 'csv' && o.format !== 'json') throw new UsageError('--format must be csv or json');
      const s = openStore(o);
      const out = o.out ? createWriteStream(o.out) : process.stdout;
      try {
        const n = await writeExport(s.records, { fromMs: o.from, toMs: o.to }, o.format, out);
        if (o.out) {
          (out as ReturnType<typeof createWriteStream>).end();
          await once(out, 'finish');
          process.stderr.write(`exported ${n} sessions to ${o.out}\n`);
        }
      } finally {
        s.close();
      }
    });
  storeOptions(cmd.command('show'))
    .description('one session with its meter curve')
    .argument('<localId>', 'the session\'s local id (a prefix is enough)')
    .action((localId: string, o: StoreOptions) => {
      const s = openStore(o);
      try {
        const row = s.records.get(localId) ?? [...s.records.iterate()].find((r) => r.localId.startsWith(localId));
        if (!row) throw new UsageError(`no session ${localId}`);
        const signed = s.records.signedValues(row.localId);
        process.stdout.write(JSON.stringify({ ...row, meterCurve: s.records.curve(row.localId), ...(signed.length ? { signedMeterValues: signed } : {}) }, null, 2) + '\n');
      } finally {
        s.close();
      }
    });
  storeOptions(cmd.command('erase'))
    .description('remove every trace of one customer not needed to deliver unsynced billing data')
    .option('--id-tag <tag>', 'the customer\'s idTag (pseudonymised here with the installation secret)')
    .option('--customer <ref>', 'the customer reference (pseudonym) shown in reports')
    .action((o: StoreOptions & { idTag?: string; customer?: string }) => {
      if (!o.idTag === !o.customer) throw new UsageError('give exactly one of --id-tag or --customer');
      const s = openStore(o);
      try {
        let ref = o.customer;
        if (o.idTag) ref = customerRefOf(s.secretFile, o.idTag);
        const r = s.records.erase(ref!, o.idTag);
        process.stdout.write(`customer ${ref}:\n  removed: the customer reference and idTag of ${r.anonymised} synced session(s)` +
          (o.idTag ? `; ${r.cacheEntries} authorisation cache entr${r.cacheEntries === 1 ? 'y' : 'ies'}` : '') + '\n');
        if (r.kept.length) {
          process.stdout.write(`  kept until the central system acknowledges them (then erased automatically):\n`);
          for (const k of r.kept) process.stdout.write(`    ${k.localId}: ${k.why}\n`);
        }
        process.stdout.write('  not touched: the local authorisation list, which the central system manages (SendLocalList)\n');
      } finally {
        s.close();
      }
    });
  storeOptions(cmd.command('purge'))
    .description('apply retention now: delete synced sessions older than N days (unsynced data is never deleted)')
    .option('--days <n>', 'retention in days (default: the config\'s retention.days, or 90)', (v) => Number(v))
    .action((o: StoreOptions & { days?: number }) => {
      const days = retentionDays(o);
      const s = openStore(o);
      try {
        const r = s.records.purge(Date.now() - days * 86_400_000);
        process.stdout.write(`retention ${days} days: deleted ${r.sessions} session(s), ${r.samples} meter sample(s), ${r.outbox} delivered message(s), ${r.audit} audit entr${r.audit === 1 ? 'y' : 'ies'}; kept ${r.keptUnsynced} unsynced session(s)\n`);
      } finally {
        s.close();
      }
    });
  return cmd;
}
