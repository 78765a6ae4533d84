/**
 * Writes profiles/schema/meter.schema.json and evse.schema.json from the profile schemas (one
 * schema source). Run: `npx tsx src/drivers/modbus/write-schemas.ts`; a test checks the files
 * are up to date.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILES_DIR } from '../../config/profiles.js';
import { meterProfileJsonSchema } from './meter-profile.js';
import { evseProfileJsonSchema } from './evse-profile.js';

export function profileSchemaFiles(dir = join(PROFILES_DIR, 'schema')): Record<string, string> {
  return {
    [join(dir, 'meter.schema.json')]: JSON.stringify(meterProfileJsonSchema(), null, 2) + '\n',
    [join(dir, 'evse.schema.json')]: JSON.stringify(evseProfileJsonSchema(), null, 2) + '\n',
  };
}

export function writeProfileSchemas(dir = join(PROFILES_DIR, 'schema')): string[] {
  mkdirSync(dir, { recursive: true });
  const files = profileSchemaFiles(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(file, text);
  return Object.keys(files);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const f of writeProfileSchemas()) console.log(`wrote ${f}`);
}
