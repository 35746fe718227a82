// charts.js - the dashboard's charts on Chart.js (web/vendor/chart.umd.js, installed by
// build.sh setup): horizontal bars and donuts that keep their canvas and update in place
// (animated, no flicker), a colour-blind-safe palette, a text alternative on every canvas
// and the numbers behind each chart as a table or a legend.
import { el, fmtInt } from './api.js';

const Chart = window.Chart;

// Paul Tol's "muted" scheme, told apart with the common colour-vision deficiencies; pale grey
// last (the blank/null choices come last in the catalog).
export const PALETTE = ['#332288', '#88CCEE', '#44AA99', '#117733', '#999933', '#DDCC77',
  '#CC6677', '#882255', '#AA4499', '#DDDDDD'];
export const PLACE_COLOR = '#4f6a9a'; // bars of places (departments, stations): one colour

const reduceMotion = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
const pct = (n, sum) => (sum ? ((100 * n) / sum).toFixed(1) : '0.0');

// Writes each bar's value after its end, so the chart reads without hovering.
const valueLabels = {
  id: 'valueLabels',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const meta = chart.getDatasetMeta(0);
    const values = chart.data.datasets[0].data;
    ctx.save();
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = '#1d2330';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    // After the bar's end, in ink: light palette colours would not carry white text.
    meta.data.forEach((bar, i) => ctx.fillText(fmtInt(values[i]), bar.x + 4, bar.y));
    ctx.restore();
  },
};

function baseOptions() {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: reduceMotion ? false : { duration: 450, easing: 'easeOutQuart' },
    plugins: { legend: { display: false } },
  };
}

// rows: [{label, value, color}] in display order.
function describe(canvas, title, rows, sum) {
  const parts = rows.map((r) => `${r.label} ${fmtInt(r.value)} (${pct(r.value, sum)}%)`);
  canvas.setAttribute('aria-label', `${title}: ${parts.join('; ') || 'no votes yet'}`);
}

function numbersTable(table, head, rows, sum) {
  if (!table) return;
  const body = rows.map((r) => el('tr', {}, el('td', {}, r.label),
    el('td', { class: 'n' }, fmtInt(r.value)), el('td', { class: 'n' }, `${pct(r.value, sum)}%`)));
  if (!body.length) body.push(el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'no votes yet')));
  table.replaceChildren(el('thead', {}, el('tr', {}, el('th', {}, head),
    el('th', { class: 'n' }, 'votes'), el('th', { class: 'n' }, 'share'))), el('tbody', {}, body));
}

// A horizontal bar chart; update(rows) redraws in place.  sumOf(rows) is the share's base.
export function barChart(canvas, { title, head, table, sumOf }) {
  if (!Chart) throw new Error('vendor/chart.umd.js did not load (run ./build.sh setup)');
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [{ data: [], backgroundColor: [], borderRadius: 3, maxBarThickness: 34 }] },
    options: {
      ...baseOptions(),
      indexAxis: 'y',
      layout: { padding: { right: 60 } },
      scales: {
        x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: '#eef0f3' } },
        y: { grid: { display: false }, ticks: { autoSkip: false, font: { size: 12 } } },
      },
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => ` ${fmtInt(c.raw)} votes` } } },
    },
    plugins: [valueLabels],
  });
  return {
    chart,
    update(rows) {
      const sum = sumOf ? sumOf(rows) : rows.reduce((t, r) => t + r.value, 0);
      chart.data.labels = rows.map((r) => r.label);
      const ds = chart.data.datasets[0];
      ds.data = rows.map((r) => r.value);
      ds.backgroundColor = rows.map((r) => r.color);
      chart.update();
      describe(canvas, title, rows, sum);
      numbersTable(table, head, rows, sum);
    },
  };
}

// A donut with an HTML legend listing every slice with its share and count (the legend is the
// numbers behind the chart, readable by screen readers and without a pointer).
export function donutChart(canvas, { title, legend }) {
  if (!Chart) throw new Error('vendor/chart.umd.js did not load (run ./build.sh setup)');
  const chart = new Chart(canvas, {
    type: 'doughnut',
    data: { labels: [], datasets: [{ data: [], backgroundColor: [], borderColor: '#fff', borderWidth: 1 }] },
    options: {
      ...baseOptions(),
      cutout: '55%',
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (c) => ` ${c.label}: ${fmtInt(c.raw)} (${pct(c.raw, c.dataset.data.reduce((t, n) => t + n, 0))}%)`,
          },
        },
      },
    },
  });
  return {
    chart,
    update(rows, what) {
      const sum = rows.reduce((t, r) => t + r.value, 0);
      chart.data.labels = rows.map((r) => r.label);
      const ds = chart.data.datasets[0];
      ds.data = rows.map((r) => r.value);
      ds.backgroundColor = rows.map((r) => r.color);
      chart.update();
      describe(canvas, `${title} ${what || ''}`.trim(), rows.filter((r) => r.value > 0), sum);
      legend.replaceChildren(...(sum ? rows.filter((r) => r.value > 0) : []).map((r) => el('li', {},
        el('span', { class: 'swatch', style: { background: r.color }, 'aria-hidden': 'true' }),
        el('span', { class: 'name' }, r.label),
        el('span', { class: 'n' }, `${pct(r.value, sum)}%`),
        el('span', { class: 'n muted' }, fmtInt(r.value)))));
      if (!sum) legend.replaceChildren(el('li', { class: 'muted' }, 'no votes yet'));
    },
  };
}

export function destroyCharts(charts) {
  for (const c of Object.values(charts)) c?.chart?.destroy();
}
