/**
 * profiles/schema/meter.schema.json and evse.schema.json from the profile schemas (one schema
 * source). `evse-edge schemas` writes them with the others; a test checks the files are up to
 * date. Importing this module writes nothing (it was once also a script that wrote the files
 * when run as the main module, a check that holds for any module inside a bundle).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
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

