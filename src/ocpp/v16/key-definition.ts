/** One configuration key as this charger defines it (configuration.ts, feature-keys.ts, security.ts). */
export interface KeyDefinition {
  key: string;
  readonly: boolean;
  type: 'int' | 'bool' | 'measurands' | 'string' | 'csl';
  default: string;
  min?: number;
  max?: number;
  rebootRequired?: boolean;
  /** Never shown in GetConfiguration (a secret). */
  writeOnly?: boolean;
  /** Extra check of a value (e.g. a JSON document); returns why it is invalid. */
  validate?: (value: string) => string | undefined;
}
