import { Command } from 'commander';
import { writeSchemas } from '../app/schemas.js';

export function schemaCommand(): Command {
  return new Command('schemas')
    .description('write the JSON Schemas of the config file and the profiles to profiles/schema')
    .action(() => {
      const changed = writeSchemas();
      process.stdout.write(changed.length ? changed.map((f) => `wrote ${f}`).join('\n') + '\n' : 'schemas up to date\n');
    });
}
