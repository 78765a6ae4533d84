import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchemas, renderSchema, writeSchemas } from '../../src/app/schemas.js';
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

  it('evse-edge schemas writes every schema, the meter and EVSE board profiles\' too, and only what changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-schemas-'));
    try {
      const names = writeSchemas(dir).map((f) => f.slice(dir.length + 1)).sort();
      expect(names).toEqual(['agent-config.schema.json', 'charger.schema.json', 'evse.schema.json', 'meter.schema.json']);
      for (const n of names) expect(readFileSync(join(dir, n), 'utf8'), n).toBe(readFileSync(join(PROFILES_DIR, 'schema', n), 'utf8'));
      expect(writeSchemas(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the profile schema module writes nothing when it is the main module (as any module of a bundle is)', () => {
    const files = readdirSync(join(PROFILES_DIR, 'schema')).map((f) => join(PROFILES_DIR, 'schema', f));
    const before = files.map((f) => statSync(f).mtimeMs);
    const root = resolve(import.meta.dirname, '../..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/drivers/modbus/write-schemas.ts')], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(files.map((f) => statSync(f).mtimeMs)).toEqual(before);
  });
});
