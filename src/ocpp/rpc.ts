/**
 * ocpp-rpc, as every module of src/ uses it: its strict-mode validators are built when a
 * subprotocol first needs one, not at import.
 *
 * ocpp-rpc 2.2.1 builds a validator for each subprotocol it bundles when it is first required
 * (lib/standard-validators.js: ocpp1.6, ocpp2.0.1 and ocpp2.1, 1.6 MB of JSON schemas parsed and
 * added to three Ajv instances), in every process and worker thread, whichever version the
 * connection then speaks: measured here, `require('ocpp-rpc')` took 0.49 s and 11 MB of heap
 * (28 MB RSS), of it 0.05 s and 2 MB for 1.6 alone. An agent on 1.6 paid that before its first
 * BootNotification, and a fleet in every worker thread.
 *
 * So, before ocpp-rpc's client and server load, the module they take their standard
 * validators from is put in the require cache with validators of the same subprotocols that
 * build ocpp-rpc's own (createValidator with its bundled schemas) on their first call: the
 * same schemas and the same answers, later. The two members ocpp-rpc uses of a validator are
 * `subprotocol` and `validate` (lib/client.js, lib/server.js). Where ocpp-rpc was already loaded
 * (a test that required it first) nothing is replaced.
 */
import Module, { createRequire } from 'node:module';
import type * as OcppRpc from 'ocpp-rpc';

const require = createRequire(import.meta.url);

/** Subprotocol → ocpp-rpc's bundled schema file, as lib/standard-validators.js lists them. */
const BUNDLED: ReadonlyArray<readonly [string, string]> = [
  ['ocpp1.6', 'ocpp-rpc/lib/schemas/ocpp1_6.json'],
  ['ocpp2.0.1', 'ocpp-rpc/lib/schemas/ocpp2_0_1.json'],
  ['ocpp2.1', 'ocpp-rpc/lib/schemas/ocpp2_1.json'],
];

function installLazyStandardValidators(): void {
  const path = require.resolve('ocpp-rpc/lib/standard-validators.js');
  if (require.cache[path]) return;
  const { createValidator } = require('ocpp-rpc/lib/validator.js') as Pick<typeof OcppRpc, 'createValidator'>;
  const lazy = (subprotocol: string, schemas: string): OcppRpc.Validator => {
    let built: OcppRpc.Validator | undefined;
    return {
      subprotocol,
      validate(schemaId: string, params: unknown) {
        built ??= createValidator(subprotocol, require(schemas));
        return built.validate(schemaId, params);
      },
    };
  };
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = BUNDLED.map(([subprotocol, schemas]) => lazy(subprotocol, schemas));
  require.cache[path] = m;
}

installLazyStandardValidators();
const rpc = require('ocpp-rpc') as typeof OcppRpc;

/** ocpp-rpc's standard validators (lazy, as above): the one of a subprotocol, e.g. ocpp2.0.1. */
export function standardValidator(subprotocol: string): OcppRpc.Validator | undefined {
  return (require('ocpp-rpc/lib/standard-validators.js') as OcppRpc.Validator[]).find((v) => v.subprotocol === subprotocol);
}

/**
 * Build a subprotocol's standard validator and compile each of its schemas now, as the first call
 * of each action would: for a process about to serve many connections, before the first of them
 * (a fleet thread, so that no charger's turn pays for it). Measured here: ocpp1.6 about 0.2 s and
 * 2 MB of heap, ocpp2.0.1 about 0.6 s and 14 MB. An unknown subprotocol is a no-op.
 */
export function prepareStandardValidator(subprotocol: string): void {
  const bundled = BUNDLED.find(([s]) => s === subprotocol);
  const validator = standardValidator(subprotocol);
  if (!bundled || !validator) return;
  for (const schema of require(bundled[1]) as { $id?: string }[]) {
    if (!schema.$id) continue;
    try {
      validator.validate(schema.$id, undefined);
    } catch {
      // No payload is valid: the schema is compiled, which is all this is for.
    }
  }
}

export const RPCClient: typeof OcppRpc.RPCClient = rpc.RPCClient;
export type RPCClient = OcppRpc.RPCClient;
export const RPCServer: typeof OcppRpc.RPCServer = rpc.RPCServer;
export type RPCServer = OcppRpc.RPCServer;
export const createRPCError: typeof OcppRpc.createRPCError = rpc.createRPCError;
export const createValidator: typeof OcppRpc.createValidator = rpc.createValidator;
export const NOREPLY: typeof OcppRpc.NOREPLY = rpc.NOREPLY;
export type { RPCClientOptions, RPCServerOptions, ServerClient, Validator, HandlerContext, RPCError } from 'ocpp-rpc';
