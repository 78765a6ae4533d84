import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

describe('the embedded MQTT broker (mqtt.url "embedded")', () => {
  it('starts an in-process broker on loopback and publishes the charger there (MQTT 3.1.1)', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    const t = await startAgent(url, { mqtt: { url: 'embedded', embeddedPort: 0, roles: { laptop: 'technician' }, requireLoginTopic: true } });
    try {
      const started = await waitFor(() => t.logs.records.find((r) => r.msg === 'embedded MQTT broker started'), 10_000, 'the broker');
      const brokerUrl = String(started.url);
      expect(brokerUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
      const seen = new Map<string, string>();
      client.on('message', (topic, payload) => seen.set(topic, payload.toString()));
      await client.subscribeAsync('evse/CP-TEST-1/#', { qos: 1 });
      await waitFor(() => seen.get('evse/CP-TEST-1/state') === 'online', 10_000, 'state online');
      // A request with the correlation in the payload, as MQTT 3.1.1 clients send it.
      await client.publishAsync('evse/CP-TEST-1/request/laptop/status/get', JSON.stringify({ correlation: 'c-1', sentAt: new Date().toISOString() }), { qos: 1 });
      const answer = await waitFor(() => seen.get('evse/CP-TEST-1/response/laptop/status/get'), 10_000, 'the answer');
      expect(JSON.parse(answer)).toMatchObject({ status: 'ok', correlation: 'c-1' });
      // requireLoginTopic: request/<noun>/<verb>, whose user is only named in the payload, is
      // refused, with the topic to use instead.
      await client.publishAsync('evse/CP-TEST-1/request/status/get', JSON.stringify({ correlation: 'c-2', user: 'laptop', sentAt: new Date().toISOString() }), { qos: 1 });
      const refused = await waitFor(() => seen.get('evse/CP-TEST-1/response/status/get'), 10_000, 'the refusal');
      expect(JSON.parse(refused)).toMatchObject({ status: 'error', correlation: 'c-2', error: { code: 'ERR_FORBIDDEN', message: 'this charger answers requests under your broker login only: evse/CP-TEST-1/request/<login>/status/get' } });
      await client.endAsync();
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });
});
