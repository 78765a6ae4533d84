import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchemas, renderSchema } from '../../src/app/schemas.js';
import { chargerProfileSchema, loadProfile, PROFILES_DIR } from '../../src/config/index.js';

describe('profiles and their JSON Schemas', () => {
  it('the JSON Schema files in profiles/schema are generated from the schema source (run `evse-edge schemas`)', () => {
    for (const [name, schema] of Object.entries(jsonSchemas())) {
      expect(readFileSync(join(PROFILES_DIR, 'schema', name), 'utf8'), name).toBe(renderSchema(name, schema));
    }
  });

  it('every charger profile loads, is named after its id and points at its schema', () => {
    const files = readdirSync(join(PROFILES_DIR, 'chargers')).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const p = loadProfile('chargers', f.replace(/\.json$/, ''), chargerProfileSchema);
      expect(p.id).toBe(f.replace(/\.json$/, ''));
      expect(JSON.parse(readFileSync(join(PROFILES_DIR, 'chargers', f), 'utf8')).$schema).toBe('../schema/charger.schema.json');
    }
  });
});
