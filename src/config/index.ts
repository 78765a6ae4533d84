export { s, deepFreeze, type Infer, type Schema, type Problem } from './schema.js';
export { loadAgentConfig, parseAgentConfig, agentConfigSchema, type AgentConfig, type LoadedAgentConfig, type DeviceConfig, type ReaderConfig, type TouchscreenConfig } from './agent-config.js';
export { chargerProfileSchema, connectorPhases, loadProfile, loadJsonFile, listProfiles, PROFILES_DIR, type ChargerProfile } from './profiles.js';
