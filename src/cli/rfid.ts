import { Command } from 'commander';
import { pseudonymSecretFile, RFID_PROTOCOLS, watchCards, type RfidProtocol } from '../app/tools/rfid-probe.js';

export function rfidCommand(): Command {
  const cmd = new Command('rfid').description('RFID reader bring-up');
  cmd.command('watch')
    .description('print each card presented, normalised as the agent sees it (pseudonymised unless --show-uid)')
    .requiredOption('--port <tty>', 'serial device of the reader')
    .requiredOption('--protocol <p>', `one of ${RFID_PROTOCOLS.join(', ')}`)
    .option('--baud <rate>', 'baud rate (default by protocol)', (v) => Number(v))
    .option('--show-uid', 'print UIDs in clear, in every form (bring-up only: UIDs are personal data)')
    .option('--config <file>', "the agent's config: its installation secret names cards as the agent does")
    .option('--secret <file>', 'the pseudonym secret file (pseudonym.key)')
    .action(async (o: { port: string; protocol: string; baud?: number; showUid?: boolean; config?: string; secret?: string }) => {
      if (!(RFID_PROTOCOLS as readonly string[]).includes(o.protocol)) throw new Error(`--protocol must be one of ${RFID_PROTOCOLS.join(', ')}`);
      const secretFile = pseudonymSecretFile(o);
      if (!secretFile && !o.showUid) throw new Error('give --config or --secret to pseudonymise cards, or --show-uid to print them in clear');
      const watch = await watchCards({ port: o.port, protocol: o.protocol as RfidProtocol, baudRate: o.baud, showUid: Boolean(o.showUid), secretFile, out: process.stdout });
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      await watch.stop();
    });
  return cmd;
}
