import type { ScenarioExpectation } from '../../sim/scenario.js';
import { totals, type FleetReport, type Threshold, type Verdict } from './report.js';

const num = (x: number) => Number(x.toFixed(3));

/** The name a verdict goes by: the expectation's own, or one made from what it says. */
export function expectationName(e: ScenarioExpectation): string {
  if (e.name) return e.name;
  const after = 'afterStep' in e && e.afterStep !== undefined ? ` within ${e.withinSeconds ?? 0} s after step ${e.afterStep}` : '';
  switch (e.expect) {
    case 'answer':
      return `${e.action} answered ${e.status}${after}`;
    case 'no-callerror':
      return `no CALLERROR${e.action ? ` to ${e.action}` : ''}${after}`;
    case 'latency':
      return `${e.percentile}(${e.action ?? 'every CALL'}) < ${e.belowMs} ms`;
    case 'count':
      return `${e.action}${e.status ? ` answered ${e.status}` : ''} at least ${e.atLeast} time${e.atLeast === 1 ? '' : 's'}`;
  }
}

/** One expectation judged from a report's figures (merged ones too: they add up across shards). */
export function judge(r: FleetReport, e: ScenarioExpectation, index: number): Verdict {
  const name = expectationName(e);
  if ((e.expect === 'answer' || e.expect === 'no-callerror') && e.afterStep !== undefined) {
    const w = r.stats.watched?.[String(index)] ?? { chargers: 0, met: 0, notRun: 0 };
    const expected = `every charger step ${e.afterStep} ran on${w.chargers ? ` (${w.chargers})` : ''}`;
    if (w.chargers === 0) return { name, passed: false, value: 0, measured: `no charger is selected by step ${e.afterStep} in this fleet`, expected };
    const notRun = w.notRun ? `; the step never ran on ${w.notRun} (not accepted in time, or the run ended first)` : '';
    const measured = e.expect === 'answer'
      ? `${w.met} of ${w.chargers} chargers`
      : `${w.met} of ${w.chargers} chargers without one, ${w.chargers - w.met - w.notRun} with a CALLERROR`;
    return { name, passed: w.met === w.chargers, value: w.met, measured: measured + notRun, expected };
  }
  switch (e.expect) {
    case 'no-callerror': {
      const actions = Object.entries(r.stats.actions).filter(([a]) => e.action === undefined || a === e.action);
      const codes: Record<string, number> = {};
      for (const [, a] of actions) for (const [c, n] of Object.entries(a.errors)) codes[c] = (codes[c] ?? 0) + n;
      const n = Object.values(codes).reduce((x, y) => x + y, 0);
      const calls = actions.reduce((x, [, a]) => x + a.count, 0);
      const detail = n ? ` (${Object.entries(codes).map(([c, k]) => `${c}:${k}`).join(' ')})` : '';
      return { name, passed: n === 0, value: n, measured: `${n} CALLERRORs${detail} in ${calls} ${e.action ?? ''}${e.action ? ' ' : ''}CALLs`, expected: '0 CALLERRORs' };
    }
    case 'latency': {
      const t = totals(r, e.action);
      const expected = `below ${e.belowMs} ms`;
      if (t.latency.count === 0) return { name, passed: false, value: 0, measured: `no ${e.action ?? ''}${e.action ? ' ' : ''}CALL was answered`, expected };
      const ms = e.percentile === 'max' ? t.latency.maxUs / 1000 : t.latency.percentileMs(Number(e.percentile.slice(1)));
      return { name, passed: ms < e.belowMs, value: num(ms), measured: `${num(ms)} ms (${t.latency.count} answers)`, expected };
    }
    case 'count': {
      const a = r.stats.actions[e.action];
      const n = e.status === undefined ? a?.count ?? 0 : a?.answers?.[e.status] ?? 0;
      return { name, passed: n >= e.atLeast, value: n, measured: `${n}`, expected: `at least ${e.atLeast}` };
    }
    default:
      // 'answer' always has afterStep (the scenario's checks require it).
      return { name, passed: false, value: 0, measured: 'not measurable without afterStep', expected: 'an answer after a step' };
  }
}

/** Every expectation the report carries, judged. */
export function judgeReport(r: FleetReport): Verdict[] {
  return (r.expectations ?? []).map((e, i) => judge(r, e, i));
}

const xml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/**
 * JUnit XML for CI: one testcase per expectation (its verdict; a failure says measured against
 * expected) and one per --fail-on threshold, in one testsuite named after the scenario.
 */
export function junitXml(r: FleetReport, thresholds: { threshold: Threshold; failed?: { actual: number; note?: string } }[] = []): string {
  const classname = `evse-edge.sim.${r.scenario}`;
  const cases: string[] = [];
  for (const v of r.verdicts ?? []) {
    const failure = v.passed ? '' : `\n      <failure type="expectation" message="${xml(`measured ${v.measured}, expected ${v.expected}`)}">${xml(`${v.name}: measured ${v.measured}; expected ${v.expected}`)}</failure>\n    `;
    cases.push(`    <testcase classname="${xml(classname)}" name="${xml(v.name)}" time="0">${failure}</testcase>`);
  }
  for (const { threshold, failed } of thresholds) {
    const measured = failed ? failed.note ?? String(num(failed.actual)) : '';
    const failure = failed ? `\n      <failure type="threshold" message="${xml(`measured ${measured}, expected ${threshold.text}`)}">${xml(`--fail-on ${threshold.text}: measured ${measured}`)}</failure>\n    ` : '';
    cases.push(`    <testcase classname="${xml(`${classname}.fail-on`)}" name="${xml(threshold.text)}" time="0">${failure}</testcase>`);
  }
  const failures = (r.verdicts ?? []).filter((v) => !v.passed).length + thresholds.filter((t) => t.failed).length;
  const tests = (r.verdicts?.length ?? 0) + thresholds.length;
  const time = (r.wallMs / 1000).toFixed(3);
  const props = [
    ['chargers', r.chargers], ['seed', r.seed], ['timeScale', r.timeScale], ['simulatedMs', r.simulatedMs],
    ['shards', r.shards.map((s) => `${s.index}/${s.total}`).join(' ')], ['overloaded', r.overloaded],
    ...(r.interrupted ? [['interrupted', r.interrupted.signal]] : []),
  ].map(([k, v]) => `      <property name="${xml(String(k))}" value="${xml(String(v))}"/>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="evse-edge sim" tests="${tests}" failures="${failures}" errors="0" time="${time}">`,
    `  <testsuite name="${xml(r.scenario)}" tests="${tests}" failures="${failures}" errors="0" skipped="0" time="${time}" timestamp="${xml(r.startedAt.replace(/Z$/, ''))}">`,
    '    <properties>',
    ...props,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
