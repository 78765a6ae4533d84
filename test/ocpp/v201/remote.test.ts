import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** An agent on 2.0.1 against the strict 2.0.1 server, booted and with its statuses sent. */
async function ready(ocpp: Record<string, unknown> = {}): Promise<{ csms: TestCsms; url: string; t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp } });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, url, t, call: (action, params) => csms.call(CP, action, params) };
}

const txEvents = (csms: TestCsms): RecordedCall[] => csms.callsOf('TransactionEvent', CP);
const token = (idToken: string) => ({ idToken, type: 'Central' });

describe('OCPP 2.0.1 remote control against a strict 2.0.1 central system', () => {
  it('RequestStartTransaction: Accepted on a free EVSE, Started with RemoteStart and the remoteStartId; unknown or busy EVSE and, with AuthorizeRemoteStart, a refused token Rejected (F01, F02)', async () => {
    const { csms, t, call } = await ready();
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 9, remoteStartId: 41 })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 42 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    expect(started.params).toMatchObject({
      triggerReason: 'RemoteStart', seqNo: 0, evse: { id: 1, connectorId: 1 },
      transactionInfo: { remoteStartId: 42, chargingState: 'EVConnected', transactionId: t.agent.chargePoint!.session(1)!.localId },
    });
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER2'), evseId: 1, remoteStartId: 43 })).toEqual({ status: 'Rejected' });

    // AuthorizeRemoteStart (AuthCtrlr) true: the token is authorised first; a blocked one is refused.
    expect((await call('SetVariables', { setVariableData: [{ component: { name: 'AuthCtrlr' }, variable: { name: 'AuthorizeRemoteStart' }, attributeValue: 'true' }] })).setVariableResult[0].attributeStatus).toBe('Accepted');
    csms.on('Authorize', (p: any) => ({ idTokenInfo: { status: p.idToken.idToken === 'GOODTAG' ? 'Accepted' : 'Blocked' } }));
    expect(await call('RequestStartTransaction', { idToken: token('BADTAG'), evseId: 2, remoteStartId: 44 })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('GOODTAG'), evseId: 2, remoteStartId: 45 })).toEqual({ status: 'Accepted' });
    expect(csms.callsOf('Authorize', CP).map((c) => c.params.idToken.idToken)).toEqual(['BADTAG', 'GOODTAG']);
    const second = await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started')[1], 10_000, 'second Started');
    expect(second.params).toMatchObject({ triggerReason: 'RemoteStart', evse: { id: 2 }, transactionInfo: { remoteStartId: 45 } });
    // Only the accepted starts opened transactions.
    expect(txEvents(csms).filter((c) => c.params.eventType === 'Started')).toHaveLength(2);
    expect(csms.validationFailures).toEqual([]);
  });

  it('RequestStartTransaction and RequestStopTransaction while the boot is Pending: Rejected, and no transaction (B02.FR.05)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    csms.on('BootNotification', () => ({ status: 'Pending', currentTime: new Date().toISOString(), interval: 300 }));
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { HeartbeatInterval: 300 } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'pending', 10_000, 'Pending');
    expect(await csms.call(CP, 'RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Rejected' });
    expect(await csms.call(CP, 'RequestStopTransaction', { transactionId: 'any' })).toEqual({ status: 'Rejected' });
    expect(t.agent.chargePoint!.session(1)).toBeUndefined();
    expect(csms.calls.filter((c) => c.action !== 'BootNotification')).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('RequestStopTransaction: an unknown transactionId Rejected, a running one Accepted and Ended with RemoteStop / Remote (F03)', async () => {
    const { csms, call } = await ready();
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 7 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const transactionId = started.params.transactionInfo.transactionId as string;
    expect(await call('RequestStopTransaction', { transactionId: 'no-such-transaction' })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    const ended = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    expect(ended.params).toMatchObject({ triggerReason: 'RemoteStop', transactionInfo: { transactionId, stoppedReason: 'Remote' } });
    const events = txEvents(csms).map((c) => c.params);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));
    // The transaction is over: a second stop is Rejected.
    expect(await call('RequestStopTransaction', { transactionId })).toEqual({ status: 'Rejected' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('RequestStartTransaction, then a restart before the Started is acknowledged: the Started goes again identical (RemoteStart, the same remoteStartId), and a later remote start of the same token is not given to it', async () => {
    const { csms, url, t, call } = await ready();
    // The central system receives the Started but its answer never reaches the station.
    let hold = true;
    csms.on('TransactionEvent', (p: any) => (hold ? new Promise(() => undefined) : p.idToken ? { idTokenInfo: { status: 'Accepted' } } : {}));
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 71 })).toEqual({ status: 'Accepted' });
    const first = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    expect(first.params).toMatchObject({ triggerReason: 'RemoteStart', transactionInfo: { remoteStartId: 71 } });
    await t.agent.stop();
    hold = false;
    // The same store, a new process state: the Started is still queued, and goes first after the boot.
    const again = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300 } }, { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    const redelivered = await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started')[1], 10_000, 'the Started again');
    expect(redelivered.params).toEqual(first.params);
    // A new remote start of the same token after the restart: its own transaction carries its id.
    await waitFor(() => again.agent.link!.state === 'accepted' && again.agent.outbox!.summary().depth === 0, 10_000, 'the queue delivered');
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 2, remoteStartId: 72 })).toEqual({ status: 'Accepted' });
    const next = await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started')[2], 10_000, 'the next Started');
    expect(next.params.transactionInfo.transactionId).not.toBe(first.params.transactionInfo.transactionId);
    expect(next.params).toMatchObject({ triggerReason: 'RemoteStart', evse: { id: 2 }, transactionInfo: { remoteStartId: 72 } });
    expect(csms.validationFailures).toEqual([]);
  });

  it('UnlockConnector: UnknownConnector for an unknown EVSE or connector, OngoingAuthorizedTransaction while one runs (not stopped), Unlocked once it is over (F05)', async () => {
    const { csms, call } = await ready();
    expect(await call('UnlockConnector', { evseId: 9, connectorId: 1 })).toEqual({ status: 'UnknownConnector' });
    expect(await call('UnlockConnector', { evseId: 1, connectorId: 2 })).toEqual({ status: 'UnknownConnector' });
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    expect(await call('UnlockConnector', { evseId: 1, connectorId: 1 })).toEqual({ status: 'OngoingAuthorizedTransaction' });
    expect(txEvents(csms).some((c) => c.params.eventType === 'Ended')).toBe(false);
    expect(await call('RequestStopTransaction', { transactionId: started.params.transactionInfo.transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    expect(await call('UnlockConnector', { evseId: 1, connectorId: 1 })).toEqual({ status: 'Unlocked' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('TriggerMessage: answered first, then BootNotification (Triggered), Heartbeat, StatusNotification, MeterValues sent; TransactionEvent without a transaction Rejected, others NotImplemented, an unknown EVSE Rejected (F06)', async () => {
    const { csms, call } = await ready();
    // The answer goes first by construction (the message is sent from setImmediate after the handler returned);
    // the test server's own bookkeeping cannot order an answer against the next CALL on the socket, so this asserts what follows.
    const trigger = (params: Record<string, unknown>) => call('TriggerMessage', params);
    const boots = csms.callsOf('BootNotification', CP).length;
    expect(await trigger({ requestedMessage: 'BootNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('BootNotification', CP).length > boots, 10_000, 'triggered boot');
    expect(csms.callsOf('BootNotification', CP).at(-1)!.params).toMatchObject({ reason: 'Triggered' });
    expect(await trigger({ requestedMessage: 'Heartbeat' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('Heartbeat', CP).length >= 1, 10_000, 'Heartbeat');
    const statuses = csms.callsOf('StatusNotification', CP).length;
    expect(await trigger({ requestedMessage: 'StatusNotification', evse: { id: 2, connectorId: 1 } })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StatusNotification', CP).length > statuses, 10_000, 'StatusNotification');
    expect(csms.callsOf('StatusNotification', CP).at(-1)!.params).toMatchObject({ evseId: 2, connectorId: 1, connectorStatus: 'Available' });
    expect(await trigger({ requestedMessage: 'MeterValues', evse: { id: 1 } })).toEqual({ status: 'Accepted' });
    const mv = await waitFor(() => csms.callsOf('MeterValues', CP)[0], 10_000, 'MeterValues');
    expect(mv.params).toMatchObject({ evseId: 1, meterValue: [{ sampledValue: expect.arrayContaining([expect.objectContaining({ context: 'Trigger' })]) }] });
    expect(await trigger({ requestedMessage: 'TransactionEvent' })).toEqual({ status: 'Rejected' });
    expect(await trigger({ requestedMessage: 'PublishFirmwareStatusNotification' })).toEqual({ status: 'NotImplemented' });
    expect(await trigger({ requestedMessage: 'Heartbeat', evse: { id: 9 } })).toEqual({ status: 'Rejected' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('ChangeAvailability: an idle EVSE Unavailable at once, a busy one Scheduled until its transaction ends, the station Inoperative, an unknown EVSE Rejected; persisted (G03, G04)', async () => {
    const { csms, t, call } = await ready();
    const lastStatus = (evseId: number) => csms.callsOf('StatusNotification', CP).filter((c) => c.params.evseId === evseId).at(-1)?.params.connectorStatus;
    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 9 } })).toEqual({ status: 'Rejected' });
    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 2 } })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(2) === 'Unavailable', 10_000, 'EVSE 2 Unavailable');
    expect(t.agent.settings!.get('evse-edge.Availability.2')).toBe('Inoperative');
    expect(await call('ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 2, connectorId: 1 } })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(2) === 'Available', 10_000, 'EVSE 2 Available');

    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 3 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 1 } })).toEqual({ status: 'Scheduled' });
    expect(lastStatus(1)).toBe('Occupied');
    expect(await call('RequestStopTransaction', { transactionId: started.params.transactionInfo.transactionId })).toEqual({ status: 'Accepted' });
    t.agent.sim.connectors.get(1)!.unplug();
    await waitFor(() => lastStatus(1) === 'Unavailable', 10_000, 'EVSE 1 Unavailable after its transaction');

    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative' })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(2) === 'Unavailable', 10_000, 'station Inoperative');
    expect(t.agent.settings!.get('evse-edge.Availability.0')).toBe('Inoperative');
    expect(csms.validationFailures).toEqual([]);
  });

  it('GetTransactionStatus: ongoingIndicator and messagesInQueue for a transaction, messagesInQueue without one (E14)', async () => {
    const { csms, t, call } = await ready();
    expect(await call('GetTransactionStatus', {})).toEqual({ messagesInQueue: false });
    expect(await call('GetTransactionStatus', { transactionId: 'unknown' })).toEqual({ ongoingIndicator: false, messagesInQueue: false });
    // The central system does not answer the Started event for a while: it stays queued.
    let hold = true;
    csms.on('TransactionEvent', async () => {
      while (hold) await new Promise((r) => setTimeout(r, 20));
      return {};
    });
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 5 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started sent');
    const transactionId = started.params.transactionInfo.transactionId as string;
    expect(await call('GetTransactionStatus', { transactionId })).toEqual({ ongoingIndicator: true, messagesInQueue: true });
    expect(await call('GetTransactionStatus', {})).toEqual({ messagesInQueue: true });
    hold = false;
    expect(await call('RequestStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    // Until the Ended event is delivered the answer says the transaction has messages queued.
    await waitFor(() => txEvents(csms).some((c) => c.params.eventType === 'Ended'), 10_000, 'Ended sent');
    await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'queue empty');
    expect(await call('GetTransactionStatus', { transactionId })).toEqual({ ongoingIndicator: false, messagesInQueue: false });
    expect(txEvents(csms).some((c) => c.params.eventType === 'Ended')).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  });

  it('Reset: an unknown EVSE Rejected; OnIdle during a transaction Scheduled; Immediate ends it with ResetCommand / ImmediateReset and the station restarts (boots again) (B11, B12)', async () => {
    const { csms, call } = await ready();
    expect(await call('Reset', { type: 'Immediate', evseId: 9 })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('APPUSER1'), evseId: 1, remoteStartId: 6 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const transactionId = started.params.transactionInfo.transactionId as string;
    expect(await call('Reset', { type: 'OnIdle', evseId: 1 })).toEqual({ status: 'Scheduled' });
    expect(txEvents(csms).some((c) => c.params.eventType === 'Ended')).toBe(false);
    const boots = csms.callsOf('BootNotification', CP).length;
    expect(await call('Reset', { type: 'Immediate' })).toEqual({ status: 'Accepted' });
    const ended = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 15_000, 'Ended');
    expect(ended.params).toMatchObject({ triggerReason: 'ResetCommand', transactionInfo: { transactionId, stoppedReason: 'ImmediateReset' } });
    await waitFor(() => csms.callsOf('BootNotification', CP).length > boots, 15_000, 'boot after the reset');
    expect(csms.validationFailures).toEqual([]);
  });

  it('DataTransfer: another vendor UnknownVendorId, ours with an unknown message UnknownMessageId', async () => {
    const { csms, call } = await ready();
    expect(await call('DataTransfer', { vendorId: 'com.example', messageId: 'Hello', data: 'x' })).toEqual({ status: 'UnknownVendorId' });
    expect(await call('DataTransfer', { vendorId: 'org.evse-edge', messageId: 'Nope' })).toEqual({ status: 'UnknownMessageId' });
    expect(csms.validationFailures).toEqual([]);
  });
});
