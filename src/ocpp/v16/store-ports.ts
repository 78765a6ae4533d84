/** The store ports every version binding shares (src/ocpp/store-ports.ts), as the 1.6 binding has always imported them. */
export * from '../store-ports.js';
