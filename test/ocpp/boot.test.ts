import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const CP = 'CP-TEST-1';

describe('boot sequence (R4, R9) against a real central system', () => {
  let csms: TestCsms;
  let url: string;
  let agent: TestAgent | undefined;

  beforeEach(async () => {
    csms = new TestCsms();
    url = await csms.start();
  });

  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
    await csms.stop();
  });

  /** Index of the first BootNotification answered Accepted. */
  const acceptedAt = (answers: string[]) => {
    const boots = csms.calls.filter((c) => c.action === 'BootNotification');
    const i = answers.indexOf('Accepted');
    return csms.calls.indexOf(boots[i]!);
  };

  it('sends BootNotification first, with the charger profile identity', async () => {
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
    expect(csms.calls[0]!.action).toBe('BootNotification');
    expect(csms.calls[0]!.chargePointId).toBe(CP);
    expect(csms.calls[0]!.params).toMatchObject({ chargePointVendor: 'evse-edge', chargePointModel: 'SIM-AC-2x22', firmwareVersion: 'sim-1' });
    expect(agent.agent.link!.state).toBe('accepted');
  });

  it('Pending: waits the interval, answers central-system calls, sends nothing else, then Accepted', async () => {
    const answers: string[] = [];
    csms.on('BootNotification', () => {
      const status = answers.length < 2 ? 'Pending' : 'Accepted';
      answers.push(status);
      return { status, currentTime: new Date().toISOString(), interval: 1 };
    });
    agent = await startAgent(url);
    await waitFor(() => answers.length >= 1, 10_000, 'first boot');
    await waitFor(() => agent!.agent.link!.state === 'pending', 5_000, 'pending');
    // While Pending the central system may configure the charger: the agent answers.
    const conf = await csms.call(CP, 'GetConfiguration', { key: ['NumberOfConnectors'] });
    expect(conf.configurationKey).toEqual([{ key: 'NumberOfConnectors', readonly: true, value: '2' }]);

    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 15_000, 'statuses after Accepted');
    expect(answers).toEqual(['Pending', 'Pending', 'Accepted']);
    const boots = csms.callsOf('BootNotification');
    // Retried after the interval (1 s), not at once.
    expect(boots[1]!.at - boots[0]!.at).toBeGreaterThanOrEqual(900);
    expect(boots[2]!.at - boots[1]!.at).toBeGreaterThanOrEqual(900);
    const first = acceptedAt(answers);
    expect(csms.calls.slice(0, first + 1).map((c) => c.action)).toEqual(['BootNotification', 'BootNotification', 'BootNotification']);
  });

  it('Rejected: stays silent until it retries after the interval', async () => {
    const answers: string[] = [];
    csms.on('BootNotification', () => {
      const status = answers.length < 1 ? 'Rejected' : 'Accepted';
      answers.push(status);
      return { status, currentTime: new Date().toISOString(), interval: 1 };
    });
    agent = await startAgent(url);
    await waitFor(() => agent!.agent.link!.state === 'rejected', 10_000, 'rejected');
    // A card presented while Rejected must not reach the central system.
    agent.agent.sim.reader.present({ token: { id: 'CARD0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => answers.length >= 2, 10_000, 'retry');
    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
    const boots = csms.callsOf('BootNotification');
    expect(boots[1]!.at - boots[0]!.at).toBeGreaterThanOrEqual(900);
    const first = acceptedAt(answers);
    expect(csms.calls.slice(0, first + 1).map((c) => c.action)).toEqual(['BootNotification', 'BootNotification']);
    expect(csms.callsOf('Authorize')).toHaveLength(0);
  });

  it('Rejected: answers no central-system call (no CALLRESULT, no CALLERROR) and acts on none; once Accepted it answers', async () => {
    let accept = false;
    csms.on('BootNotification', () => ({ status: accept ? 'Accepted' : 'Rejected', currentTime: new Date().toISOString(), interval: 1 }));
    agent = await startAgent(url);
    await waitFor(() => agent!.agent.link!.state === 'rejected', 10_000, 'rejected');
    const client = csms.client(CP);
    // Every CALLRESULT or CALLERROR the charger sends, by message id.
    const answers = new Map<string, unknown[]>();
    client.on('message', (m: { message: string; outbound: boolean }) => {
      if (m.outbound) return;
      const frame = JSON.parse(String(m.message)) as unknown[];
      if (frame[0] === 3 || frame[0] === 4) answers.set(frame[1] as string, frame);
    });
    // An unknown action and a schema-invalid call would get a CALLERROR from an answering charger.
    client.sendRaw('[2,"r1","MakeCoffee",{}]');
    client.sendRaw('[2,"r2","RemoteStartTransaction",{"idTag":123}]');
    // A valid call is neither answered nor acted on: the central system's call times out.
    const started = Date.now();
    const err = await client.call('RemoteStartTransaction', { connectorId: 1, idTag: 'REJTAG01' }, { callTimeoutMs: 1_500 }).then(() => undefined, (e: Error) => e);
    // ocpp-rpc's TimeoutError (its name property is plain 'Error').
    expect(err?.constructor.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    // Still not Accepted (between two Rejected answers a retry may be on its way: booting).
    expect(['rejected', 'booting']).toContain(agent.agent.link!.state);
    expect([...answers.keys()]).toEqual([]);
    expect(agent.agent.chargePoint!.session(1)).toBeUndefined();
    expect(toV16Status(agent.agent.chargePoint!.evseCondition(1))).toBe('Available');

    accept = true;
    await waitFor(() => agent!.agent.link!.state === 'accepted', 10_000, 'accepted');
    client.sendRaw('[2,"a1","MakeCoffee",{}]');
    await waitFor(() => answers.get('a1'), 5_000, 'CALLERROR once Accepted');
    expect(answers.get('a1')!.slice(0, 3)).toEqual([4, 'a1', 'NotImplemented']);
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'ACCTAG01' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(csms.callsOf('StartTransaction').map((c) => c.params.idTag)).toEqual(['ACCTAG01']);
    expect(answers.has('r1') || answers.has('r2')).toBe(false);
  });

  it('a BootNotification that fails (CALLERROR) is retried; nothing else is sent meanwhile', async () => {
    let n = 0;
    csms.on('BootNotification', () => {
      if (n++ === 0) throw new Error('not ready');
      return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
    });
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
    expect(csms.calls.slice(0, 2).map((c) => c.action)).toEqual(['BootNotification', 'BootNotification']);
  });

  it('sets its clock from currentTime and stamps later messages with it', async () => {
    const skewMs = 3_600_000;
    csms.on('BootNotification', () => ({ status: 'Accepted', currentTime: new Date(Date.now() + skewMs).toISOString(), interval: 300 }));
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
    const clock = agent.agent.clock;
    expect(clock.trusted()).toBe(true);
    expect(Math.abs(clock.now() - Date.now() - skewMs)).toBeLessThan(60_000);
    const status = csms.callsOf('StatusNotification')[0]!;
    expect(status.params.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(status.params.timestamp) - status.at - skewMs)).toBeLessThan(60_000);
  });

  it('Heartbeat.conf currentTime also sets the clock', async () => {
    const skewMs = -7_200_000;
    csms.on('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 1 }));
    csms.on('Heartbeat', () => ({ currentTime: new Date(Date.now() + skewMs).toISOString() }));
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('Heartbeat').length >= 1, 10_000, 'heartbeat');
    await waitFor(() => Math.abs(agent!.agent.clock.now() - Date.now() - skewMs) < 60_000, 5_000, 'clock set from Heartbeat');
  });

  it('after Accepted: StatusNotification for connectors 0, 1 and 2', async () => {
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
    const statuses = csms.callsOf('StatusNotification').map((c) => c.params);
    expect(statuses.map((s) => s.connectorId).sort()).toEqual([0, 1, 2]);
    for (const s of statuses) expect(s).toMatchObject({ status: 'Available', errorCode: 'NoError' });
    const bootIndex = csms.calls.findIndex((c) => c.action === 'BootNotification');
    const firstStatus = csms.calls.findIndex((c) => c.action === 'StatusNotification');
    expect(firstStatus).toBeGreaterThan(bootIndex);
    expect(csms.validationFailures).toEqual([]);
  });

  it('sends Heartbeat every HeartbeatInterval (from BootNotification.conf interval)', async () => {
    csms.on('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 1 }));
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('Heartbeat').length >= 3, 15_000, 'three heartbeats');
    const conf = await csms.call(CP, 'GetConfiguration', { key: ['HeartbeatInterval'] });
    expect(conf.configurationKey[0].value).toBe('1');
    const beats = csms.callsOf('Heartbeat');
    for (let i = 1; i < beats.length; i++) expect(beats[i]!.at - beats[i - 1]!.at).toBeGreaterThanOrEqual(800);
    expect(beats[0]!.params).toEqual({});
  });

  it('a HeartbeatInterval changed by ChangeConfiguration takes effect', async () => {
    agent = await startAgent(url);
    await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
    expect(csms.callsOf('Heartbeat')).toHaveLength(0);
    expect(await csms.call(CP, 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '1' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('Heartbeat').length >= 2, 15_000, 'heartbeats after change');
  });
});
