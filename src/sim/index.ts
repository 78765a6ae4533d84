export { SIM_MEASURANDS, SimConnector, type SimVehicle, type SimConnectorOptions } from './sim-connector.js';
export { SimIdReader } from './sim-id-reader.js';
export { Prng, seedOf } from './prng.js';
export { SimFaultSource } from './sim-fault-source.js';
