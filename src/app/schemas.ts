import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { agentConfigSchema, chargerProfileSchema, PROFILES_DIR, type Schema } from '../config/index.js';
import { profileSchemaFiles } from '../drivers/modbus/write-schemas.js';

/**
 * The JSON Schemas technicians' editors use, generated from the one schema source. Each
 * profile names its schema with "$schema": "../schema/<kind>.schema.json".
 */
export function jsonSchemas(): Record<string, Schema<unknown>> {
  return {
    'charger.schema.json': chargerProfileSchema,
    'agent-config.schema.json': agentConfigSchema,
  };
}

export function renderSchema(name: string, schema: Schema<unknown>): string {
  return JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', $id: name, ...schema.jsonSchema() }, null, 2) + '\n';
}

/** Write every schema (config, charger, meter and EVSE board profiles) to profiles/schema; returns the files whose content changed. */
export function writeSchemas(dir = join(PROFILES_DIR, 'schema'), extra: Record<string, Schema<unknown>> = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const changed: string[] = [];
  const texts: Record<string, string> = profileSchemaFiles(dir);
  for (const [name, schema] of Object.entries({ ...jsonSchemas(), ...extra })) texts[join(dir, name)] = renderSchema(name, schema);
  for (const [file, text] of Object.entries(texts)) {
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
      writeFileSync(file, text);
      changed.push(file);
    }
  }
  return changed;
}
