// The fleet's figures as the dashboard reads them: the control port's Prometheus /metrics,
// parsed, and turned into counters, rates and latency percentiles between two scrapes.
// Pure functions (no DOM), a plain ES module for the browser.

/** Prometheus text exposition (0.0.4) → [{ name, labels, value }]; comments skipped. */
export function parsePrometheus(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
      let l;
      while ((l = re.exec(m[2]))) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const v = m[3];
    out.push({ name: m[1], labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function total(samples, name, labels = {}) {
  let sum = 0;
  for (const s of samples) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** The round trips of every action as one cumulative histogram: [{ le (seconds), count }], sorted. */
export function latencyBuckets(samples) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== 'evse_sim_ocpp_call_duration_seconds_bucket') continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** What a cumulative histogram counted since an earlier one (same bounds). */
export function bucketsSince(now, before) {
  const old = new Map((before ?? []).map((b) => [b.le, b.count]));
  return now.map((b) => ({ le: b.le, count: Math.max(0, b.count - (old.get(b.le) ?? 0)) }));
}

/**
 * The q-quantile (0..1) of a cumulative histogram, seconds, as Prometheus's histogram_quantile
 * estimates it: linear within the bucket that holds the rank; the highest finite bound when the
 * rank falls in +Inf. Undefined when the histogram counted nothing.
 */
export function quantile(q, buckets) {
  const n = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (!n) return undefined;
  const rank = q * n;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lower;
      const inBucket = b.count - below;
      return inBucket > 0 ? lower + (b.le - lower) * ((rank - below) / inBucket) : b.le;
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

/** The dashboard's counters from one scrape. */
export function fleetFigures(samples) {
  const byState = {};
  for (const s of samples) if (s.name === 'evse_sim_chargers') byState[s.labels.state] = s.value;
  const byLink = {};
  for (const s of samples) if (s.name === 'evse_sim_chargers_link') byLink[s.labels.link] = s.value;
  const messagesIn = total(samples, 'evse_sim_messages_in_total');
  const messagesOut = total(samples, 'evse_sim_messages_out_total');
  return {
    chargers: Object.values(byState).reduce((a, b) => a + b, 0),
    byState,
    byLink,
    connections: total(samples, 'evse_sim_connections'),
    reconnects: total(samples, 'evse_sim_reconnects_total'),
    sessionsOpen: total(samples, 'evse_sim_sessions_open'),
    sessionsStarted: total(samples, 'evse_sim_sessions_started_total'),
    energyKWh: total(samples, 'evse_sim_energy_wh_total') / 1000,
    messagesIn,
    messagesOut,
    messages: messagesIn + messagesOut,
    callErrors: total(samples, 'evse_sim_ocpp_calls_total', { result: 'callerror' }),
    timeouts: total(samples, 'evse_sim_ocpp_calls_total', { result: 'timeout' }),
    connectFailures: total(samples, 'evse_sim_connect_failures_total'),
    latency: latencyBuckets(samples),
  };
}

/** One point of the charts: messages per second and latency percentiles (ms) between two scrapes. */
export function chartPoint(now, before, seconds) {
  const d = bucketsSince(now.latency, before?.latency);
  const ms = (q) => {
    const v = quantile(q, d);
    return v === undefined ? null : v * 1000;
  };
  return {
    messagesPerSec: before && seconds > 0 ? Math.max(0, now.messages - before.messages) / seconds : null,
    p50: before ? ms(0.5) : null,
    p95: before ? ms(0.95) : null,
    p99: before ? ms(0.99) : null,
  };
}
