// A small time-series line chart drawn as SVG: a few series over the last N points, the y axis
// from 0 to a rounded maximum, a legend with each series' latest value. No library needed.

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

/** The smallest 1, 2 or 5 × 10^k at or above v. */
export function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export class LineChart {
  /**
   * @param {HTMLElement} host where the chart goes
   * @param {{ title: string, unit: string, series: { key: string, label: string, color: string }[], points?: number }} o
   */
  constructor(host, o) {
    this.o = { points: 150, ...o };
    this.data = [];
    this.width = 480;
    this.height = 160;
    const figure = document.createElement('figure');
    figure.className = 'chart';
    const caption = document.createElement('figcaption');
    caption.textContent = `${o.title} (${o.unit})`;
    figure.appendChild(caption);
    this.svg = el('svg', { viewBox: `0 0 ${this.width} ${this.height}`, role: 'img', 'aria-label': o.title });
    figure.appendChild(this.svg);
    this.legend = document.createElement('div');
    this.legend.className = 'legend';
    figure.appendChild(this.legend);
    host.appendChild(figure);
    this.draw();
  }

  /** Adds a point: { at: ms, [key]: number | null } (null: nothing measured then). */
  push(point) {
    this.data.push(point);
    if (this.data.length > this.o.points) this.data.shift();
    this.draw();
  }

  draw() {
    const { width, height } = this;
    const left = 44, right = 6, top = 8, bottom = 18;
    const w = width - left - right, h = height - top - bottom;
    this.svg.replaceChildren();
    const values = this.data.flatMap((p) => this.o.series.map((s) => p[s.key])).filter((v) => typeof v === 'number' && Number.isFinite(v));
    const max = niceCeiling(Math.max(0, ...values));
    for (const f of [0, 0.5, 1]) {
      const y = top + h - f * h;
      el('line', { x1: left, x2: left + w, y1: y, y2: y, class: 'grid' }, this.svg);
      el('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'axis' }, this.svg).textContent = formatNumber(max * f);
    }
    const n = this.o.points;
    const x = (i) => left + (w * (i + n - this.data.length)) / Math.max(1, n - 1);
    const y = (v) => top + h - (v / max) * h;
    const first = this.data[0];
    if (first) {
      const span = Math.round((this.data[this.data.length - 1].at - first.at) / 1000);
      el('text', { x: left, y: height - 4, class: 'axis' }, this.svg).textContent = `−${span} s`;
      el('text', { x: left + w, y: height - 4, 'text-anchor': 'end', class: 'axis' }, this.svg).textContent = 'now';
    }
    this.legend.replaceChildren();
    for (const s of this.o.series) {
      // A gap where nothing was measured, not a line through it; a point alone, a dot.
      let d = '';
      let run = [];
      const endRun = () => {
        if (run.length === 1) el('circle', { cx: run[0][0].toFixed(1), cy: run[0][1].toFixed(1), r: 2, fill: s.color, 'data-series': s.key }, this.svg);
        else if (run.length > 1) d += run.map(([px, py], k) => `${k ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join(' ') + ' ';
        run = [];
      };
      this.data.forEach((p, i) => {
        const v = p[s.key];
        if (typeof v !== 'number' || !Number.isFinite(v)) endRun();
        else run.push([x(i), y(v)]);
      });
      endRun();
      if (d) el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.5, 'data-series': s.key }, this.svg);
      const last = [...this.data].reverse().find((p) => typeof p[s.key] === 'number');
      const item = document.createElement('span');
      item.className = 'legend-item';
      item.dataset.series = s.key;
      item.style.setProperty('--series-color', s.color);
      item.textContent = `${s.label} ${last ? formatNumber(last[s.key]) : '–'}`;
      this.legend.appendChild(item);
    }
  }
}

export function formatNumber(v) {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return Math.round(v).toLocaleString('en');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
