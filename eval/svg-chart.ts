/**
 * A grouped bar chart as a standalone SVG document, written by hand (no
 * plotting dependency): one group per category (a preference), one bar per
 * series (a method), values in [0, 1] with a dashed line at 0.5 (a win rate
 * of "no better, no worse").
 *
 * @packageDocumentation
 */

/** One series of bars. */
export interface ChartSeries {
  name: string;
  /** One value per category, in [0, 1]; null draws no bar. */
  values: readonly (number | null)[];
}

export interface BarChart {
  title: string;
  categories: readonly string[];
  series: readonly ChartSeries[];
  /** The y axis label. */
  yLabel: string;
}

/** Colour-blind-safe colours (Okabe–Ito), one per series in order. */
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** Escapes text for SVG/XML. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const WIDTH_PER_CATEGORY = 110;
const PLOT_HEIGHT = 260;
const MARGIN = { top: 44, right: 150, bottom: 56, left: 56 };

/** Renders the chart; the layout depends only on the number of categories and series. */
export function renderBarChart(chart: BarChart): string {
  const plotWidth = Math.max(1, chart.categories.length) * WIDTH_PER_CATEGORY;
  const width = MARGIN.left + plotWidth + MARGIN.right;
  const height = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom;
  const y = (value: number): number => MARGIN.top + PLOT_HEIGHT * (1 - Math.min(1, Math.max(0, value)));
  const barWidth = (WIDTH_PER_CATEGORY - 20) / Math.max(1, chart.series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="sans-serif" font-size="12">',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const ty = y(tick);
    parts.push(`<line x1="${MARGIN.left}" y1="${ty}" x2="${MARGIN.left + plotWidth}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${ty + 4}" text-anchor="end">${tick.toFixed(2)}</text>`);
  }
  parts.push(`<text transform="translate(16 ${MARGIN.top + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle">` +
    `${escapeXml(chart.yLabel)}</text>`);
  chart.categories.forEach((category, c) => {
    const groupX = MARGIN.left + c * WIDTH_PER_CATEGORY + 10;
    chart.series.forEach((series, s) => {
      const value = series.values[c];
      if (value === null || value === undefined) return;
      const top = y(value);
      parts.push(`<rect x="${(groupX + s * barWidth).toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" ` +
        `height="${(MARGIN.top + PLOT_HEIGHT - top).toFixed(1)}" fill="${COLOURS[s % COLOURS.length]}">` +
        `<title>${escapeXml(`${series.name}, ${category}: ${value.toFixed(3)}`)}</title></rect>`);
    });
    parts.push(`<text x="${groupX + (WIDTH_PER_CATEGORY - 20) / 2}" y="${MARGIN.top + PLOT_HEIGHT + 18}" ` +
      `text-anchor="middle">${escapeXml(category)}</text>`);
  });
  const half = y(0.5);
  parts.push(`<line x1="${MARGIN.left}" y1="${half}" x2="${MARGIN.left + plotWidth}" y2="${half}" stroke="#444" ` +
    'stroke-dasharray="5 4"/>',
  `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + PLOT_HEIGHT}" stroke="#444"/>`);
  chart.series.forEach((series, s) => {
    const ly = MARGIN.top + 10 + s * 20;
    const lx = MARGIN.left + plotWidth + 16;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLOURS[s % COLOURS.length]}"/>`,
      `<text x="${lx + 18}" y="${ly}">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
