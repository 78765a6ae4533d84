/**
 * The version bindings behind the seam (./version.ts), by subprotocol, each loaded when first
 * needed: 1.6 is always here (the default, and 2.0.1 builds on its settings); 2.0.1's modules
 * (link, device model, incoming table, mapping) are imported only for a charger that prefers
 * it or whose central system selects it, so an agent on 1.6 starts without them.
 * What a connection needs before the central system selects a version, its strict-mode
 * validator, comes without loading the binding.
 */
import type { Validator } from './rpc.js';
import { v16, type FeatureServices, type KeyDefinition } from './v16/index.js';
import { sharedV201StrictValidator } from './v201/errors.js';
import type { OcppSubprotocol, OcppVersion } from './version.js';

/** A version binding as a charger is composed with it (1.6's key definitions and feature services). */
export type VersionBinding = OcppVersion<KeyDefinition[], FeatureServices>;

const IMPORTS: Record<OcppSubprotocol, () => Promise<VersionBinding>> = {
  'ocpp1.6': async () => v16,
  'ocpp2.0.1': async () => (await import('./v201/index.js')).v201,
};

/** The strict-mode validator a version needs in place of ocpp-rpc's own, if any (loads no binding). */
const STRICT_VALIDATORS: Partial<Record<OcppSubprotocol, () => Validator>> = {
  'ocpp2.0.1': sharedV201StrictValidator,
};

const loaded = new Map<OcppSubprotocol, VersionBinding>([['ocpp1.6', v16]]);
const loading = new Map<OcppSubprotocol, Promise<VersionBinding>>();

/** The binding of a subprotocol, loaded once per process (concurrent callers share the import). */
export function loadOcppVersion(subprotocol: OcppSubprotocol): Promise<VersionBinding> {
  const ready = loaded.get(subprotocol);
  if (ready) return Promise.resolve(ready);
  const importer = IMPORTS[subprotocol];
  if (!importer) return Promise.reject(new Error(`OCPP version ${subprotocol} is not implemented`));
  let pending = loading.get(subprotocol);
  if (!pending) {
    pending = importer().then(
      (binding) => {
        loaded.set(subprotocol, binding);
        loading.delete(subprotocol);
        return binding;
      },
      (err: unknown) => {
        loading.delete(subprotocol);
        throw err;
      },
    );
    loading.set(subprotocol, pending);
  }
  return pending;
}

/** Every binding of `subprotocols` loaded. */
export async function loadOcppVersions(subprotocols: readonly OcppSubprotocol[]): Promise<void> {
  await Promise.all(subprotocols.map(loadOcppVersion));
}

/** The binding of a subprotocol if it is loaded already (synchronous; see loadOcppVersion). */
export function loadedOcppVersion(subprotocol: OcppSubprotocol): VersionBinding | undefined {
  return loaded.get(subprotocol);
}

/** The strict-mode validator of a subprotocol, if the version replaces ocpp-rpc's own. */
export function strictValidatorOf(subprotocol: OcppSubprotocol): Validator | undefined {
  return STRICT_VALIDATORS[subprotocol]?.();
}
