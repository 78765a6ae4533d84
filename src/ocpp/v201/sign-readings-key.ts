/**
 * Where SampledDataCtrlr.SignReadings is stored among a charger's settings (settingsVariableStore's
 * key: `ocpp2.0.1:` and MemoryVariableStore.key of the variable). In a file without imports, so a
 * fleet can preset it (sim --signed) without loading the 2.0.1 binding.
 */
export const SIGN_READINGS_SETTING = 'ocpp2.0.1:sampleddatactrlr||||signreadings||actual';
