import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** An agent on 2.0.1 against the strict 2.0.1 server, booted and with its statuses sent. */
async function ready(ocpp: Record<string, unknown> = {}): Promise<{ csms: TestCsms; t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp } });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, t, call: (action, params) => csms.call(CP, action, params) };
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
      transactionInfo: { remoteStartId: 42, chargingState: 'Charging', transactionId: t.agent.chargePoint!.session(1)!.localId },
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
});
