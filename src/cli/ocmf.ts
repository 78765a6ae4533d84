import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { verifySignedValues } from '../app/ocmf.js';
import { EvseError, UsageError } from '../lib/errors.js';

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
}

/** A key given as text (hex, base64, PEM) or as a file holding it. */
function keyArg(value: string): string {
  if (/^[0-9a-fA-F]+$/.test(value) || value.startsWith('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch {
    return value; // base64 text; an unreadable key is reported by the check
  }
}

/** Calibration law: signed meter values. */
export function ocmfCommand(): Command {
  const cmd = new Command('ocmf').description('signed meter values (OCMF): verify records or a sessions export');
  cmd.command('verify')
    .description('verify OCMF records against the meter\'s public key (exit 0 all valid, 1 one is not, 2 bad input)')
    .argument('<file>', 'an OCMF record (one per line), an OCPP signed meter value (JSON), or a `sessions export` (JSON); - for stdin')
    .option('--key <key>', 'the meter\'s public key: hex or base64 DER, PEM, or a file holding one (default: the key the input carries)')
    .option('--json', 'print the verdicts as JSON')
    .action((file: string, o: { key?: string; json?: boolean }) => {
      let report;
      try {
        report = verifySignedValues(readInput(file), o.key === undefined ? undefined : keyArg(o.key));
      } catch (err) {
        if (err instanceof EvseError && err.code.startsWith('ERR_OCMF')) throw new UsageError(err.message);
        throw err;
      }
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else {
        for (const r of report.records) {
          const facts = r.page ? ` ${r.page} ${r.tx ?? ''} ${r.value ?? ''} ${r.unit ?? ''}`.replace(/\s+/g, ' ').trimEnd() : '';
          process.stdout.write(`${r.valid ? 'valid  ' : 'INVALID'} ${r.where}:${facts}${r.reason ? ` (${r.reason})` : ''}\n`);
        }
        for (const p of report.problems) process.stdout.write(`INVALID ${p}\n`);
        process.stdout.write(report.valid ? `all ${report.records.length} record(s) valid\n` : 'NOT VALID\n');
      }
      process.exitCode = report.valid ? 0 : 1;
    });
  return cmd;
}
