import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { ControlServer } from '../../../src/app/fleet/control/server.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { api, quietScenario } from './control-helpers.js';

/**
 * The fleet's dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against a fleet with the control API on and a strict ocpp-rpc central system. What is asserted
 * is what a person sees on the page.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const START = Date.UTC(2026, 0, 5, 8, 0, 0);
/** Generous: two cores shared by several test runs. */
const WAIT_MS = 90_000;

let browser: Browser;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  // Not skipped when missing: CI installs it (.ci/run), and a missing browser is a failure to fix.
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: the dashboard's tests need it (Debian: apt-get install chromium; .ci/run installs it; or set CHROMIUM_PATH)`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}, 120_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await browser?.close();
}, 120_000);

async function strictServer(): Promise<{ csms: TestCsms; url: string }> {
  const csms = new TestCsms();
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  return { csms, url };
}

async function controlledFleet(o: { count: number; url: string; listen?: string }) {
  const runner = new FleetRunner({
    count: o.count, scenario: quietScenario(), startMs: START, timeScale: 1, rampPerSec: 0, seed: 5, drainMs: 2_000,
    workers: 0, urls: [o.url], prefix: 'CP-',
    control: {}, onControlEvents: (list) => server.publish(list),
  });
  const server = new ControlServer({ listen: o.listen ?? '127.0.0.1:0', fleet: runner, count: o.count });
  const base = await server.start();
  const done = runner.run();
  cleanups.push(async () => {
    runner.stop();
    await done.catch(() => undefined);
    await server.close();
  });
  return { server, base: base.replace('0.0.0.0', '127.0.0.1') };
}

/**
 * A page that records what went wrong in it: script errors, Content-Security-Policy refusals and
 * other console errors, and each answer of 400 or more (as "status path", so a test names the
 * refusals it provoked).
 */
async function openPage(): Promise<{ page: Page; problems: string[]; refused: string[]; console: string[] }> {
  const page = await browser.newPage();
  cleanups.push(() => page.close());
  const problems: string[] = [];
  const refused: string[] = [];
  const console: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    console.push(m.text());
    // A failed load is in `refused`, with its address.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  return { page, problems, refused, console };
}

/** The text of what `selector` shows once `ok` holds for it (polled). */
async function shows(page: Page, selector: string, ok: (text: string) => boolean, what: string): Promise<string> {
  return waitFor(async () => {
    const texts = await page.locator(selector).allTextContents();
    return texts.find(ok);
  }, WAIT_MS, `${what} (${selector})`);
}

const counter = async (page: Page, key: string) => Number((await page.locator(`[data-counter="${key}"]`).textContent())?.replace(/,/g, ''));

describe('the fleet dashboard in headless Chromium', () => {
  let csms: TestCsms;
  let base: string;

  beforeAll(async () => {
    const s = await strictServer();
    csms = s.csms;
    ({ base } = await controlledFleet({ count: 6, url: s.url }));
  }, 120_000);

  it('is served by the control port, from a fixed directory, with a strict content policy', async () => {
    const res = await fetch(`${base}/dashboard/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await res.text()).toContain('<script type="module" src="app.js">');
    const js = await fetch(`${base}/dashboard/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/dashboard/nothing.js`)).status).toBe(404);
    expect((await fetch(`${base}/dashboard/..%2Fserver.ts`)).status).toBe(404);
    expect((await fetch(`${base}/dashboard/../server.ts`)).status).toBe(404);
    // A browser at the root is sent to the dashboard; the API's own GET / stays JSON.
    const root = await fetch(`${base}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');
    expect((await api(base, 'GET', '/')).json.endpoints).toContain('GET /dashboard/ (the dashboard, in a browser)');
  });

  it('estimates percentiles from Prometheus buckets as histogram_quantile does (the page\'s own module, in the browser)', async () => {
    const { page } = await openPage();
    await page.goto(`${base}/dashboard/?charger=none`);
    // A string, not a function: the module as the page loads it, by its URL (vitest would rewrite an import() in a function).
    const r = await page.evaluate(`(async () => {
      const m = await import('/dashboard/metrics.js');
      const b = [{ le: 0.1, count: 50 }, { le: 0.2, count: 100 }, { le: Infinity, count: 100 }];
      const tail = [{ le: 0.1, count: 1 }, { le: Infinity, count: 10 }];
      const text = '# HELP x\\nevse_sim_ocpp_call_duration_seconds_bucket{action="A",le="0.1"} 3\\nevse_sim_ocpp_call_duration_seconds_bucket{action="A",le="+Inf"} 4\\n'
        + 'evse_sim_ocpp_call_duration_seconds_bucket{action="B",le="0.1"} 1\\nevse_sim_ocpp_call_duration_seconds_bucket{action="B",le="+Inf"} 1\\nevse_sim_messages_in_total 7\\n';
      const samples = m.parsePrometheus(text);
      return {
        p50: m.quantile(0.5, b), p75: m.quantile(0.75, b), p25: m.quantile(0.25, b), p99: m.quantile(0.99, b),
        inInf: m.quantile(0.5, tail), empty: m.quantile(0.5, [{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }]) ?? 'none',
        merged: m.latencyBuckets(samples).map((x) => [String(x.le), x.count]),
        since: m.bucketsSince([{ le: 0.1, count: 5 }, { le: Infinity, count: 9 }], [{ le: 0.1, count: 2 }, { le: Infinity, count: 3 }]).map((x) => x.count),
        messages: m.fleetFigures(samples).messagesIn,
      };
    })()`) as { p50: number; p75: number; p25: number; p99: number; inInf: number; empty: string; merged: [string, number][]; since: number[]; messages: number };
    expect(r.p50).toBeCloseTo(0.1, 9);
    expect(r.p25).toBeCloseTo(0.05, 9);
    expect(r.p75).toBeCloseTo(0.15, 9);
    expect(r.p99).toBeCloseTo(0.198, 9);
    // Past the highest finite bound: that bound, as Prometheus answers.
    expect(r.inInf).toBe(0.1);
    expect(r.empty).toBe('none');
    expect(r.merged).toEqual([['0.1', 4], ['Infinity', 5]]);
    expect(r.since).toEqual([3, 6]);
    expect(r.messages).toBe(7);
  });

  it('shows the fleet: counters that move, charts of messages per second and latency, chargers filtered by state', async () => {
    const { page, problems, refused } = await openPage();
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/');
    await shows(page, '[data-counter="accepted"]', (t) => t === '6', 'six chargers accepted');
    expect(await counter(page, 'chargers')).toBe(6);
    expect(await counter(page, 'available')).toBe(6);
    expect(await counter(page, 'connections')).toBe(6);
    const rows = await shows(page, '#charger-count', (t) => t === '6 chargers', 'the table of six');
    expect(rows).toBe('6 chargers');
    expect(await page.locator('#chargers tbody tr').count()).toBe(6);
    const messagesBefore = await counter(page, 'messages');
    expect(messagesBefore).toBeGreaterThan(0);

    // A car plugs into CP-00003 (through the API, as another client would): the page follows.
    expect((await api(base, 'POST', '/chargers/CP-00003/plug', { connectorId: 1 })).status).toBe(200);
    await shows(page, '[data-counter="occupied"]', (t) => t === '1', 'one charger occupied');
    await waitFor(async () => (await counter(page, 'messages')) > messagesBefore, WAIT_MS, 'the messages counter to move');
    expect(await counter(page, 'available')).toBe(5);

    // A card on it: a session starts, the counters and the events say so.
    expect((await api(base, 'POST', '/chargers/CP-00003/present', { token: 'CARD-FLEET-1' })).status).toBe(200);
    await shows(page, '[data-counter="charging"]', (t) => t === '1', 'one charger charging');
    await shows(page, '[data-counter="sessions-open"]', (t) => t === '1', 'one session open');
    expect(await counter(page, 'sessions-started')).toBe(1);
    expect(await counter(page, 'occupied')).toBe(0);
    await shows(page, '#events li', (t) => /CP-00003 session \S+ started on 1$/.test(t), 'the session-started event');

    // The charts: a line of messages per second, and latency percentiles once a CALL was answered in an interval.
    // (A flat line has no height, so the legend's figures are what is read, and the marks are there.)
    await shows(page, '.legend-item[data-series="messagesPerSec"]', (t) => /^msg\/s \d/.test(t), 'messages per second');
    for (const p of ['p50', 'p95', 'p99']) {
      await shows(page, `.legend-item[data-series="${p}"]`, (t) => new RegExp(`^${p} \\d`).test(t), `latency ${p}`);
      await page.locator(`svg [data-series="${p}"]`).first().waitFor({ state: 'attached', timeout: WAIT_MS });
    }
    await page.locator('svg path[data-series="messagesPerSec"]').waitFor({ state: 'attached', timeout: WAIT_MS });

    // Filter by state: only the charging one; its link opens its page.
    await page.selectOption('#state-filter', 'charging');
    await shows(page, '#charger-count', (t) => t === '1 charger', 'the filtered table');
    expect(await page.locator('#chargers tbody tr').count()).toBe(1);
    expect(await page.locator('#chargers tbody tr td.state').textContent()).toBe('charging');
    expect(new URL(page.url()).searchParams.get('state')).toBe('charging');
    await page.selectOption('#state-filter', 'available');
    await shows(page, '#charger-count', (t) => t === '5 chargers', 'the available ones');
    await page.selectOption('#state-filter', 'charging');
    await page.locator('#chargers a[data-charger="CP-00003"]').click();
    await shows(page, '#charger-title', (t) => t === 'CP-00003', 'the charger\'s page');
    await shows(page, '#connectors tbody tr[data-connector="1"]', (t) => t.includes('plugged in') && t.includes('rfid'), 'connector 1 with its session');
    expect(problems).toEqual([]);
    expect(refused).toEqual([]);
  }, 240_000);

  it('a charger\'s page: "Plug in" then "Present token" make the StartTransaction appear in its live trace', async () => {
    const { page, problems, refused } = await openPage();
    const id = 'CP-00002';
    await page.goto(`${base}/dashboard/?charger=${id}`);
    await shows(page, '[data-fact="link"]', (t) => t === 'accepted', 'the link accepted');
    await shows(page, '[data-fact="state"]', (t) => t === 'available', 'available');
    expect(await page.locator('#connectors tbody tr').count()).toBe(2);

    await page.getByRole('button', { name: 'Plug in' }).click();
    await shows(page, '#action-result', (t) => t === 'Plug in: done', 'the plug-in done');
    await shows(page, '#connectors tbody tr[data-connector="1"]', (t) => t.includes('plugged in'), 'connector 1 plugged in');
    // The StatusNotification it sent for the car, live in the trace.
    await shows(page, '#trace tbody tr.dir-out td.action', (t) => t === 'StatusNotification', 'the StatusNotification in the trace');

    await page.fill('#token-input', 'CARD-DASH-7');
    await page.getByRole('button', { name: 'Present token' }).click();
    await shows(page, '#trace tbody tr.dir-out.kind-CALL td.action', (t) => t === 'StartTransaction', 'the StartTransaction in the trace');
    const answer = page.locator('#trace tbody tr.dir-in.kind-CALLRESULT', { hasText: 'StartTransaction' });
    await answer.waitFor({ timeout: WAIT_MS });
    expect(await answer.locator('td').nth(4).textContent()).toMatch(/^\d[\d.,]* ms$/);
    const call = await page.locator('#trace tbody tr.kind-CALL', { hasText: 'StartTransaction' }).locator('td.payload').textContent();
    expect(JSON.parse(call!)).toMatchObject({ connectorId: 1, idTag: 'CARD-DASH-7' });
    // What the central system received is what the page shows.
    await waitFor(() => csms.callsOf('StartTransaction', id).length === 1, WAIT_MS, 'StartTransaction at the central system');
    expect((csms.callsOf('StartTransaction', id)[0]!.params as { idTag: string }).idTag).toBe('CARD-DASH-7');
    await shows(page, '[data-fact="state"]', (t) => t === 'charging', 'charging');
    await shows(page, '#connectors tbody tr[data-connector="1"]', (t) => t.includes('rfid'), 'the session on connector 1');

    // A refused action says why, on the page.
    await page.getByRole('button', { name: 'Plug in' }).click();
    const refusal = await shows(page, '#action-result.failed', (t) => t.startsWith('Plug in: '), 'the refusal');
    expect(refusal.length).toBeGreaterThan('Plug in: '.length);

    // Fault, cut the network, restore, reboot: each button drives the charger.
    await page.selectOption('#actions select[name="fault"]', 'ground-fault');
    await page.selectOption('#connector-choice', '2');
    await page.getByRole('button', { name: 'Fault', exact: true }).click();
    await shows(page, '#connectors tbody tr[data-connector="2"]', (t) => t.includes('Faulted'), 'connector 2 faulted');
    await page.getByRole('button', { name: 'Clear fault' }).click();
    await shows(page, '#connectors tbody tr[data-connector="2"]', (t) => t.includes('Available'), 'connector 2 available again');
    await page.getByRole('button', { name: 'Cut network' }).click();
    await shows(page, '[data-fact="network"]', (t) => t === 'close', 'the network cut');
    await shows(page, '[data-fact="link"]', (t) => t === 'disconnected', 'the link down');
    await page.getByRole('button', { name: 'Restore network' }).click();
    await shows(page, '[data-fact="link"]', (t) => t === 'accepted', 'the link back');
    const boots = csms.callsOf('BootNotification', id).length;
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Reboot' }).click();
    await waitFor(() => csms.callsOf('BootNotification', id).length === boots + 1, WAIT_MS, 'the boot after the reboot');
    await shows(page, '#trace tbody tr.dir-out.kind-CALL td.action', (t) => t === 'BootNotification', 'the BootNotification in the trace');
    expect(problems).toEqual([]);
    // The one refusal asked for: the second plug-in.
    expect(refused).toEqual([`409 /chargers/${id}/plug`]);
  }, 240_000);
});

describe('the dashboard on a port that needs its bearer token', () => {
  it('takes the token from the fragment (then drops it from the address) or a prompt, and never logs it', async () => {
    const { url } = await strictServer();
    const { server, base } = await controlledFleet({ count: 2, url, listen: '0.0.0.0:0' });
    const token = server.token!;
    expect(token).toBeTruthy();

    const first = await openPage();
    await first.page.goto(`${base}/dashboard/#token=${token}`);
    await shows(first.page, '[data-counter="accepted"]', (t) => t === '2', 'two chargers accepted');
    expect(first.page.url()).not.toContain(token);
    expect(first.console.filter((t) => t.includes(token))).toEqual([]);
    expect(first.problems).toEqual([]);
    expect(first.refused).toEqual([]);

    // A new tab without it: the page asks.
    const second = await openPage();
    const prompts: string[] = [];
    second.page.on('dialog', (d) => {
      prompts.push(d.message());
      void d.accept(token);
    });
    await second.page.goto(`${base}/dashboard/?charger=CP-00001`);
    await shows(second.page, '[data-fact="link"]', (t) => t === 'accepted', 'the charger with the token from the prompt');
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatch(/bearer token/);
    // Its event stream too: a plug shows in the trace without reloading.
    await api(base, 'POST', '/chargers/CP-00001/plug', {}, token);
    await shows(second.page, '#trace tbody tr.dir-out td.action', (t) => t === 'StatusNotification', 'the trace over the stream');
    expect(second.console.filter((t) => t.includes(token))).toEqual([]);

    // Declined: a clear message, not a page that loads nothing in silence.
    const third = await openPage();
    third.page.on('dialog', (d) => void d.dismiss());
    await third.page.goto(`${base}/dashboard/`);
    await shows(third.page, '#problem', (t) => /no token/.test(t), 'the message without a token');
  }, 240_000);
});
