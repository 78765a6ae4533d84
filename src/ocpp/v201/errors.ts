/**
 * OCPP-J 2.0.1 error codes (OCPP-J 2.0.1 §4.3), and a strict-mode validator that answers with
 * them. ocpp-rpc 2.2.1 maps a schema's `required`, `minItems`, `maxItems`, … failures to the
 * 1.6 spelling `OccurenceConstraintViolation` (lib/validator.js, errorCodeLUT) and remaps it
 * only on ocpp1.6 connections (lib/client.js, _onCall): on ocpp2.0.1 a call missing a
 * required field would be answered with a code 2.0.1 does not have.
 */
import { createRPCError, standardValidator, type Validator } from '../rpc.js';

export const V201_ERROR_CODES = [
  'FormatViolation', 'GenericError', 'InternalError', 'MessageTypeNotSupported', 'NotImplemented', 'NotSupported', 'OccurrenceConstraintViolation',
  'PropertyConstraintViolation', 'ProtocolError', 'RpcFrameworkError', 'SecurityError', 'TypeConstraintViolation',
] as const;
export type V201ErrorCode = (typeof V201_ERROR_CODES)[number];

/** The 1.6 spellings ocpp-rpc uses, to their 2.0.1 names. */
const SPELLING: Readonly<Record<string, V201ErrorCode>> = {
  OccurenceConstraintViolation: 'OccurrenceConstraintViolation',
  FormationViolation: 'FormatViolation',
};

/** An error code as OCPP-J 2.0.1 spells it. */
export function v201ErrorCode(code: string): string {
  return SPELLING[code] ?? code;
}

/**
 * ocpp-rpc's own ocpp2.0.1 validator (the schemas it bundles, built once on first use), whose
 * errors carry the 2.0.1 codes. Pass it in `strictModeValidators` of an RPCClient or RPCServer.
 */
export function v201StrictValidator(): Validator {
  const standard = standardValidator('ocpp2.0.1');
  if (!standard) throw new Error('ocpp-rpc has no ocpp2.0.1 validator');
  return {
    subprotocol: 'ocpp2.0.1',
    validate(schemaId, params) {
      try {
        return standard.validate(schemaId, params);
      } catch (err) {
        // An RPCError (ocpp-rpc's CommonJS exports hide the class from ESM named imports: test its code).
        const e = err as { rpcErrorCode?: unknown; message?: string; details?: unknown };
        const code = typeof e.rpcErrorCode === 'string' ? SPELLING[e.rpcErrorCode] : undefined;
        if (code) throw createRPCError(code, e.message, e.details);
        throw err;
      }
    },
  };
}

let shared: Validator | undefined;

/** One v201StrictValidator per process, shared by every connection (it holds no state). */
export function sharedV201StrictValidator(): Validator {
  return (shared ??= v201StrictValidator());
}
