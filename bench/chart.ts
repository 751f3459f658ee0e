// docs/benchmarks.svg: one small panel per figure, one bar per server, each panel on its own scale.
import type { ServerName } from './lib/api.js';
import { formatRatio, formatValue, ratio, RATIOS, SERVER_LABELS } from './report.js';
import type { FigureRow, Results } from './results.js';

const COLORS: Record<ServerName, string> = {
  rooms: '#e8590c',
  'ws-batched': '#1864ab',
  'ws-send': '#74c0fc',
  socketio: '#868e96',
  bun: '#f3c623',
};

const COLUMNS = 2;
const PANEL_WIDTH = 470;
const GAP = 20;
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 80;
const BAR_HEIGHT = 16;
const BAR_GAP = 5;
const TITLE_HEIGHT = 34;
const LEGEND_HEIGHT = 56;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(row: FigureRow, servers: readonly ServerName[], x: number, y: number): string {
  const values = servers.map((server) => row.medians[server] ?? null);
  const top = Math.max(0, ...values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const barSpace = PANEL_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const ratios = RATIOS.filter(({ against }) => servers.includes('rooms') && servers.includes(against)).map(
    ({ against, label }) => `${label} ${formatRatio(ratio(row, against))}`,
  );
  const parts = [
    `<text x="${x}" y="${y + 14}" class="title">${escape(row.label)}</text>`,
    `<text x="${x}" y="${y + 28}" class="unit">${escape([`${row.unit}, ${row.better} is better`, ...ratios].join('   ·   '))}</text>`,
  ];
  servers.forEach((server, i) => {
    const value = values[i]!;
    const barY = y + TITLE_HEIGHT + i * (BAR_HEIGHT + BAR_GAP);
    const width = value !== null && top > 0 ? Math.max(1, (value / top) * barSpace) : 0;
    parts.push(
      `<text x="${x + LABEL_WIDTH - 6}" y="${barY + 12}" class="label" text-anchor="end">${escape(SERVER_LABELS[server])}</text>`,
      `<rect x="${x + LABEL_WIDTH}" y="${barY}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[server]}"/>`,
      `<text x="${x + LABEL_WIDTH + width + 4}" y="${barY + 12}" class="value">${escape(formatValue(value))}</text>`,
    );
  });
  return parts.join('\n');
}

export function chartSvg(results: Results): string {
  const servers = results.servers;
  const panelHeight = TITLE_HEIGHT + servers.length * (BAR_HEIGHT + BAR_GAP) + GAP;
  const rows = Math.ceil(results.figures.length / COLUMNS);
  const width = COLUMNS * PANEL_WIDTH + (COLUMNS + 1) * GAP;
  const height = LEGEND_HEIGHT + rows * panelHeight + GAP;
  const legend = servers
    .map((server, i) => {
      const x = GAP + i * 180;
      return `<rect x="${x}" y="34" width="12" height="12" fill="${COLORS[server]}"/><text x="${x + 18}" y="45" class="label">${escape(SERVER_LABELS[server])}</text>`;
    })
    .join('\n');
  const panels = results.figures.map((row, i) =>
    panel(row, servers, GAP + (i % COLUMNS) * (PANEL_WIDTH + GAP), LEGEND_HEIGHT + Math.floor(i / COLUMNS) * panelHeight),
  );
  const { machine, options } = results;
  const caption = `Medians of ${options.runs} run${options.runs === 1 ? '' : 's'} on ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${results.createdAt.slice(0, 10)}. Noisy: see docs/benchmarks.md.`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
.title { font-size: 13px; font-weight: bold; fill: #212529; }
.unit, .caption { font-size: 11px; fill: #495057; }
.label, .value { font-size: 11px; fill: #212529; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="${GAP}" y="20" class="caption">${escape(caption)}</text>
${legend}
${panels.join('\n')}
</svg>
`;
}
