export { s, deepFreeze, type Infer, type Schema, type Problem } from './schema.js';
export { loadAgentConfig, parseAgentConfig, agentConfigSchema, type AgentConfig, type LoadedAgentConfig } from './agent-config.js';
export { chargerProfileSchema, loadProfile, loadJsonFile, listProfiles, PROFILES_DIR, type ChargerProfile } from './profiles.js';
