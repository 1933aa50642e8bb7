/**
 * Writes what a run shows people: scores.json, report.md and its charts
 * (SVG, and PNG when `rsvg-convert` is on the PATH).
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalMethod } from './plan';
import type { ResponseRecord } from './runner';
import type { EvalScores, Reference, WinRate } from './scores';
import { escapeXml, renderBarChart } from './svg-chart';

/** Facts about the run the report states. */
export interface ReportContext {
  model: string;
  judgeModel: string | undefined;
  questionSets: string[];
  questionCount: number;
  command: string;
}

/** What {@link writeReport} wrote, as paths relative to the output folder. */
export interface WrittenReport {
  files: string[];
  /** False when no SVG renderer was found: the report then has SVG charts only. */
  png: boolean;
}

const CHART_DIR = 'charts';

function rate(value: WinRate | null): string {
  return value ? `${value.rate.toFixed(2)} (${value.pairs})` : '–';
}

function number(value: number | null, digits = 2): string {
  return value === null ? '–' : value.toFixed(digits);
}

/** The methods that are compared with a reference (everything but the reference itself). */
function challengers(scores: EvalScores, reference: Reference): EvalMethod[] {
  return scores.methods.filter((method) => method !== reference && method !== 'base');
}

function overallTable(scores: EvalScores): string {
  const judged = Object.values(scores.overall).some((overall) => overall?.judgeWinRate.base !== null);
  const header = ['method', 'proxy win vs base', 'proxy win vs pref',
    ...(judged ? ['judge win vs base', 'judge win vs pref', 'judge order agreement'] : []),
    'mean tokens', 'tokens/s'];
  const rows = scores.methods.flatMap((method) => {
    const overall = scores.overall[method];
    if (!overall) return [];
    return [[method, number(overall.proxyWinRate.base), number(overall.proxyWinRate.pref),
      ...(judged ? [number(overall.judgeWinRate.base), number(overall.judgeWinRate.pref), number(overall.judgeAgreement)] : []),
      overall.meanTokens.toFixed(1), overall.tokensPerSecond.toFixed(1)]];
  });
  return markdownTable(header, rows);
}

function preferenceTable(scores: EvalScores): string {
  const judged = scores.preferences.some((preference) =>
    Object.values(preference.methods).some((method) => method?.judgeAgreement !== null));
  const header = ['preference', 'proxy', 'method', 'mean proxy', 'win vs base', 'win vs pref',
    ...(judged ? ['judge vs base', 'judge vs pref'] : []), 'tokens/s'];
  const rows: string[][] = [];
  for (const preference of scores.preferences) {
    const proxy = preference.proxy ? `${preference.proxy} (${preference.direction} is better)` : '–';
    for (const method of scores.methods) {
      const entry = preference.methods[method];
      if (!entry) continue;
      rows.push([preference.name, proxy, method, number(entry.meanProxy, 3), rate(entry.proxyWinRate.base),
        rate(entry.proxyWinRate.pref),
        ...(judged ? [rate(entry.judgeWinRate.base), rate(entry.judgeWinRate.pref)] : []),
        entry.tokensPerSecond.toFixed(1)]);
    }
  }
  return markdownTable(header, rows);
}

/** A Markdown table; `|` in cells is escaped. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function escapeHtml(text: string): string {
  return escapeXml(text).replace(/\n/g, '<br>');
}

/**
 * One example per preference: the first question that has base, pref and
 * amulet answers, side by side in an HTML table (Markdown tables cannot hold
 * multi-line text). In the amulet answer, <mark> highlights the tokens where
 * Amulet's choice differed from the preference prompt's top token.
 */
function examples(scores: EvalScores, records: readonly ResponseRecord[]): string {
  const sections: string[] = [];
  const find = (set: string, index: number, preference: string | null, method: EvalMethod): ResponseRecord | undefined =>
    records.find((record) => record.questionSet === set && record.questionIndex === index &&
      record.preference === preference && record.method === method);
  for (const preference of scores.preferences) {
    const amulet = records.find((record) => record.preference === preference.name && record.method === 'amulet');
    if (!amulet) continue;
    const base = find(amulet.questionSet, amulet.questionIndex, null, 'base');
    const pref = find(amulet.questionSet, amulet.questionIndex, preference.name, 'pref');
    const highlighted = (amulet.segments ?? [{ text: amulet.response, differs: false }])
      .map((segment) => (segment.differs ? `<mark>${escapeHtml(segment.text)}</mark>` : escapeHtml(segment.text)))
      .join('');
    sections.push([
      `### ${preference.name}`,
      '',
      `*${escapeHtml(amulet.preferenceText ?? '')}* — ${amulet.questionSet} #${amulet.questionIndex}: ` +
        `${escapeHtml(amulet.question)}`,
      '',
      '<table><tr><th>base</th><th>pref</th><th>amulet</th></tr>',
      `<tr valign="top"><td>${escapeHtml(base?.response ?? '–')}</td><td>${escapeHtml(pref?.response ?? '–')}</td>` +
        `<td>${highlighted}</td></tr></table>`,
    ].join('\n'));
  }
  if (sections.length === 0) return '';
  return ['## Examples', '',
    'One question per preference. In the amulet column, <mark>highlighted</mark> text is where Amulet emitted ' +
    'another token than the preference prompt alone would have picked at that point (from the per-token trace).',
    '', sections.join('\n\n')].join('\n');
}

/** Whether `rsvg-convert` can be run. */
function svgRenderer(): boolean {
  const probe = spawnSync('rsvg-convert', ['--version'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Writes charts, scores.json and report.md into `outDir`. */
export function writeReport(outDir: string, scores: EvalScores, records: readonly ResponseRecord[],
  context: ReportContext): WrittenReport {
  mkdirSync(join(outDir, CHART_DIR), { recursive: true });
  const files: string[] = [];
  const write = (name: string, content: string): void => {
    writeFileSync(join(outDir, name), content);
    files.push(name);
  };
  write('scores.json', `${JSON.stringify(scores, null, 2)}\n`);

  const categories = scores.preferences.filter((preference) => preference.proxy !== null).map((preference) => preference.name);
  const charts: { name: string; title: string; reference: Reference; by: 'proxyWinRate' | 'judgeWinRate' }[] = [
    { name: 'proxy-win-vs-base', title: 'Proxy win rate against base', reference: 'base', by: 'proxyWinRate' },
    { name: 'proxy-win-vs-pref', title: 'Proxy win rate against pref', reference: 'pref', by: 'proxyWinRate' },
  ];
  if (context.judgeModel) {
    charts.push({ name: 'judge-win-vs-base', title: 'Judge win rate against base', reference: 'base', by: 'judgeWinRate' },
      { name: 'judge-win-vs-pref', title: 'Judge win rate against pref', reference: 'pref', by: 'judgeWinRate' });
  }
  const png = svgRenderer();
  const chartLinks: string[] = [];
  for (const chart of charts) {
    const judgeCategories = scores.preferences.map((preference) => preference.name);
    const shown = chart.by === 'proxyWinRate' ? categories : judgeCategories;
    const svg = renderBarChart({
      title: chart.title,
      yLabel: 'win rate (tie = ½)',
      categories: shown,
      series: challengers(scores, chart.reference).map((method) => ({
        name: method,
        values: shown.map((name) => scores.preferences.find((preference) => preference.name === name)
          ?.methods[method]?.[chart.by][chart.reference]?.rate ?? null),
      })),
    });
    const svgPath = join(CHART_DIR, `${chart.name}.svg`);
    write(svgPath, svg);
    if (png) {
      const pngPath = join(CHART_DIR, `${chart.name}.png`);
      const converted = spawnSync('rsvg-convert', ['-o', join(outDir, pngPath), join(outDir, svgPath)]);
      if (converted.status === 0) files.push(pngPath);
    }
    chartLinks.push(`![${chart.title}](${svgPath})`);
  }

  const report = [
    '# Amulet evaluation report',
    '',
    `- Model: \`${context.model}\``,
    ...(context.judgeModel ? [`- Judge: \`${context.judgeModel}\` (each pair judged in both orders)`] : []),
    `- Questions: ${context.questionCount} from ${context.questionSets.join(', ')}`,
    `- Preferences: ${scores.preferences.map((preference) => preference.name).join(', ')}`,
    `- Methods: ${scores.methods.join(', ')}`,
    `- Answers: ${records.length}`,
    `- Reproduce: \`${context.command}\``,
    '',
    '## Summary',
    '',
    'Win rates count a win as 1 and a tie as ½; 0.5 means no different from the reference. The overall ' +
      'rates are the means of the per-preference rates; tokens/s is the generation speed of one answer.',
    '',
    overallTable(scores),
    '',
    chartLinks.join('\n\n'),
    '',
    png ? '' : '*Charts are SVG only: no `rsvg-convert` was found to render PNG copies.*',
    '',
    '## Per preference',
    '',
    preferenceTable(scores),
    '',
    '## What the proxies can and cannot show',
    '',
    ...Object.entries(scores.proxies).map(([name, description]) => `- \`${name}\`: ${description}`),
    '',
    'A proxy measures one surface property of the text that goes with the preference: length for concise and ' +
      'verbose, lexicon sentiment for uplifting and pleasant, part-of-speech formality for formal, grade level ' +
      'for complex, lexical diversity for creative, flattery phrases for sycophantic. It shows whether decoding ' +
      'moved that property, and in which direction. It cannot show whether the answer is correct, helpful or ' +
      'fluent, and it can be won by degenerate text (a one-word answer is very concise; a list of rare words is ' +
      'diverse). Read the proxy win rates together with the examples and, where run, the judge.',
    '',
    examples(scores, records),
    '',
  ].join('\n');
  write('report.md', report);
  return { files, png };
}
