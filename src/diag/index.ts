export { MqttDiagnostics, type MqttDiagnosticsOptions } from './mqtt-diagnostics.js';
export { commands, DiagError, type DiagnosticsContext, type Role } from './commands.js';
export { topicsFor, type ConnectorState, type DiagEvent, type Envelope } from './topics.js';
export { EmbeddedBroker } from './embedded-broker.js';
