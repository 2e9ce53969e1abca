// Line charts drawn on a canvas: a rolling window of samples, several series, a light grid.

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** A chart of `series` ([{name, color}]) over the last `span` seconds. */
export class LineChart {
  constructor(canvas, legend, series, { span = 300, unit = "" } = {}) {
    this.canvas = canvas;
    this.series = series;
    this.span = span;
    this.unit = unit;
    this.points = [];   // [{t, values: [..]}], oldest first
    canvas.chart = this;  // for inspection from the browser's console (and the tests)
    this.latest = series.map(() => document.createElement("b"));
    legend.replaceChildren(...series.map((s, index) => {
      const item = document.createElement("span");
      item.dataset.series = s.name;
      const swatch = document.createElement("i");
      swatch.style.background = css(s.color);
      this.latest[index].textContent = "–";
      item.append(swatch, `${s.name} `, this.latest[index]);
      return item;
    }));
  }

  /** Adds a sample (one value per series, `null` for none) at time `t` (ms); the legend shows it. */
  add(t, values) {
    this.points.push({ t, values });
    values.forEach((value, index) => { this.latest[index].textContent = value == null ? "–" : `${format(value)}${this.unit}`; });
    const cutoff = t - this.span * 1000;
    while (this.points.length && this.points[0].t < cutoff) this.points.shift();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) { canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio); }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const left = 44, right = 8, top = 8, bottom = 20;
    const now = Date.now(), from = now - this.span * 1000;
    let max = 0;
    for (const p of this.points) for (const v of p.values) if (v != null && v > max) max = v;
    const ceiling = niceCeiling(max);
    const x = (t) => left + ((t - from) / (this.span * 1000)) * (width - left - right);
    const y = (v) => top + (1 - v / ceiling) * (height - top - bottom);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = css("--muted");
    g.strokeStyle = css("--line");
    g.lineWidth = 1;
    for (let i = 0; i <= 5; i++) {
      const v = (ceiling / 5) * i, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(width - right, yy); g.stroke();
      g.fillText(format(v), 4, yy + 4);
    }
    for (let minutes = 0; minutes <= this.span / 60; minutes++) {
      const xx = x(now - minutes * 60000);
      g.fillText(minutes === 0 ? "now" : `-${minutes}m`, xx - (minutes === 0 ? 22 : 10), height - 4);
    }
    this.series.forEach((s, index) => {
      g.strokeStyle = css(s.color);
      g.lineWidth = 2;
      g.lineJoin = "round";
      g.beginPath();
      let drawing = false;
      for (const p of this.points) {
        const v = p.values[index];
        if (v == null) { drawing = false; continue; }
        if (drawing) g.lineTo(x(p.t), y(v)); else g.moveTo(x(p.t), y(v));
        drawing = true;
      }
      g.stroke();
    });
    if (!this.points.length) {
      g.fillStyle = css("--muted");
      g.fillText("waiting for data…", left + 10, top + 20);
    }
  }
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function format(value) {
  if (value >= 10000) return `${Math.round(value / 1000)}k`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return value >= 10 || value === 0 ? String(Math.round(value)) : value.toFixed(1);
}

/** The `q` quantile (0…1) of `values`, or `null` when there are none. */
export function quantile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))];
}
