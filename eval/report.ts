/**
 * Writes what a run shows people: scores.json, report.md and its charts
 * (SVG, and PNG when `rsvg-convert` is on the PATH).
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Interval } from './bootstrap';
import { CONFIDENCE_MARGIN } from './judge';
import type { ResponseRecord } from './runner';
import {
  variantOf, type DegenerationScores, type EvalScores, type OverallScores, type Reference, type WinRate,
} from './scores';
import { escapeXml, renderBarChart } from './svg-chart';

/** Facts about the run the report states. */
export interface ReportContext {
  model: string;
  judgeModel: string | undefined;
  questionSets: string[];
  questionCount: number;
  /** Each variant as written on the command line. */
  variantSpecs: Record<string, string>;
  command: string;
}

/** What {@link writeReport} wrote, as paths relative to the output folder. */
export interface WrittenReport {
  files: string[];
  /** False when no SVG renderer was found: the report then has SVG charts only. */
  png: boolean;
}

const CHART_DIR = 'charts';

/** "0.62 [0.51, 0.73]" */
export function interval(value: Interval | null, digits = 2): string {
  return value ? `${value.value.toFixed(digits)} [${value.low.toFixed(digits)}, ${value.high.toFixed(digits)}]` : '–';
}

function rate(value: WinRate | null): string {
  return value ? `${value.value.toFixed(2)} (${value.pairs})` : '–';
}

function number(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined ? '–' : value.toFixed(digits);
}

function count(value: number | null, of: number): string {
  return value === null ? '–' : `${value}/${of}`;
}

/** The variants compared with a reference (everything but the references). */
function challengers(scores: EvalScores): string[] {
  return scores.variants.filter((variant) => variant !== 'base' && variant !== 'pref');
}

function judged(scores: EvalScores): boolean {
  return Object.values(scores.overall).some((bySet) =>
    Object.values(bySet).some((overall) => overall?.judgeAgreement !== null));
}

function degenerationCells(degeneration: DegenerationScores | undefined): string[] {
  return [number(degeneration?.inventedWords, 3), number(degeneration?.echo, 3), number(degeneration?.repetition, 3)];
}

function overallTable(scores: EvalScores, set: string): string {
  const withJudge = judged(scores);
  const header = ['variant', 'proxy win vs base', 'proxy win vs pref', 'ahead of pref (proxy)',
    ...(withJudge ? ['judge win vs base', 'judge win vs pref', 'ahead of pref (judge)', 'orders agree', 'confident'] : []),
    'NLL, plain prompt', 'vs pref', 'NLL, preference prompt', 'vs pref', 'invented words', 'echo', 'repetition',
    'mean tokens', 'mean s', 'tokens/s'];
  const rows = scores.variants.flatMap((variant) => {
    const overall: OverallScores | undefined = scores.overall[set]?.[variant];
    if (!overall) return [];
    return [[variant, interval(overall.proxyWinRate.base), interval(overall.proxyWinRate.pref),
      count(overall.preferencesAheadOfPref.proxy, overall.preferences),
      ...(withJudge ? [interval(overall.judgeWinRate.base), interval(overall.judgeWinRate.pref),
        count(overall.preferencesAheadOfPref.judge, overall.preferences), number(overall.judgeAgreement),
        number(overall.judgeConfident)] : []),
      number(overall.fluency.plainNll, 3), interval(overall.fluency.plainNllRatioToPref),
      number(overall.fluency.preferenceNll, 3), interval(overall.fluency.preferenceNllRatioToPref),
      ...degenerationCells(overall.degeneration), overall.meanTokens.toFixed(1), number(overall.meanGuidanceScale),
      overall.tokensPerSecond.toFixed(1)]];
  });
  return markdownTable(header, rows);
}

function preferenceTable(scores: EvalScores, set: string): string {
  const withJudge = judged(scores);
  const header = ['preference', 'proxy', 'variant', 'mean proxy', 'win vs base', 'win vs pref',
    ...(withJudge ? ['judge vs base', 'judge vs pref'] : []), 'NLL plain', 'NLL pref prompt', 'invented', 'echo',
    'repetition', 'tokens/s'];
  const rows: string[][] = [];
  for (const preference of scores.preferences.filter((entry) => entry.set === set)) {
    const proxy = preference.proxy ? `${preference.proxy} (${preference.direction} is better)` : '–';
    for (const variant of scores.variants) {
      const entry = preference.variants[variant];
      if (!entry) continue;
      rows.push([preference.name, proxy, variant, number(entry.meanProxy, 3), rate(entry.proxyWinRate.base),
        rate(entry.proxyWinRate.pref),
        ...(withJudge ? [rate(entry.judgeWinRate.base), rate(entry.judgeWinRate.pref)] : []),
        number(entry.fluency.plainNll, 3), number(entry.fluency.preferenceNll, 3), ...degenerationCells(entry.degeneration),
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

/** An answer's text; an `amulet` answer's tokens that differ from the preference prompt's top token in <mark>. */
function shownAnswer(record: ResponseRecord | undefined): string {
  if (!record) return '–';
  return (record.segments ?? [{ text: record.response, differs: false }])
    .map((segment) => (segment.differs ? `<mark>${escapeHtml(segment.text)}</mark>` : escapeHtml(segment.text)))
    .join('');
}

/**
 * One example per preference: the first question that has an answer of
 * every variant, side by side in an HTML table (Markdown tables cannot hold
 * multi-line text).
 */
function examples(scores: EvalScores, records: readonly ResponseRecord[]): string {
  const byKey = new Map(records.map((record) => [
    `${record.questionSet}#${record.questionIndex}|${record.preference ?? '-'}|${variantOf(record)}`, record]));
  const sections: string[] = [];
  for (const preference of scores.preferences) {
    const columns = scores.variants.filter((variant) => preference.variants[variant]);
    const candidates = records.filter((record) => record.preference === preference.name);
    const find = (set: string, index: number, variant: string): ResponseRecord | undefined =>
      byKey.get(`${set}#${index}|${variant === 'base' ? '-' : preference.name}|${variant}`);
    const complete = candidates.find((record) =>
      columns.every((variant) => find(record.questionSet, record.questionIndex, variant)));
    const chosen = complete ?? candidates[0];
    if (!chosen) continue;
    sections.push([
      `### ${preference.name}`,
      '',
      `*${escapeHtml(chosen.preferenceText ?? '')}* — ${chosen.questionSet} #${chosen.questionIndex}: ` +
        `${escapeHtml(chosen.question)}`,
      '',
      `<table><tr>${columns.map((variant) => `<th>${escapeHtml(variant)}</th>`).join('')}</tr>`,
      `<tr valign="top">${columns.map((variant) =>
        `<td>${shownAnswer(find(chosen.questionSet, chosen.questionIndex, variant))}</td>`).join('')}</tr></table>`,
    ].join('\n'));
  }
  if (sections.length === 0) return '';
  return ['## Examples', '',
    'One question per preference, every variant. In an amulet answer, <mark>highlighted</mark> text is where ' +
    'Amulet emitted another token than the preference prompt alone would have picked at that point (from the ' +
    'per-token trace).', '', sections.join('\n\n')].join('\n');
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

  const png = svgRenderer();
  const chart = (name: string, title: string, categories: string[], by: 'proxyWinRate' | 'judgeWinRate',
    reference: Reference): string => {
    const svg = renderBarChart({
      title,
      yLabel: 'win rate (tie = ½)',
      categories,
      series: challengers(scores).filter((variant) => variant !== reference).map((variant) => ({
        name: variant,
        values: categories.map((category) => scores.preferences.find((preference) => preference.name === category)
          ?.variants[variant]?.[by][reference]?.value ?? null),
      })),
    });
    const svgPath = join(CHART_DIR, `${name}.svg`);
    write(svgPath, svg);
    if (png) {
      const pngPath = join(CHART_DIR, `${name}.png`);
      const converted = spawnSync('rsvg-convert', ['-o', join(outDir, pngPath), join(outDir, svgPath)]);
      if (converted.status === 0) files.push(pngPath);
    }
    return `![${title}](${svgPath})`;
  };

  const setSections = scores.sets.flatMap((set) => {
    const inSet = scores.preferences.filter((preference) => preference.set === set);
    const withProxy = inSet.filter((preference) => preference.proxy !== null).map((preference) => preference.name);
    const charts = [chart(`${set}-proxy-win-vs-pref`, `Proxy win rate against pref (${set})`, withProxy, 'proxyWinRate', 'pref')];
    if (context.judgeModel) {
      charts.push(chart(`${set}-judge-win-vs-pref`, `Judge win rate against pref (${set})`,
        inSet.map((preference) => preference.name), 'judgeWinRate', 'pref'));
    }
    return [
      `## ${set} preferences (${inSet.length})`, '',
      overallTable(scores, set), '',
      charts.join('\n\n'), '',
      `### Per preference (${set})`, '',
      preferenceTable(scores, set), '',
    ];
  });

  const report = [
    '# Amulet evaluation report',
    '',
    `- Model: \`${context.model}\``,
    ...(context.judgeModel ? [`- Judge: \`${context.judgeModel}\`, read from the probabilities of its verdict ` +
      'tokens, each pair in both orders'] : []),
    `- Questions: ${context.questionCount} from ${context.questionSets.join(', ')}`,
    ...scores.sets.map((set) => `- Preferences (${set}): ${scores.preferences.filter((preference) => preference.set === set)
      .map((preference) => preference.name).join(', ')}`),
    `- Variants: ${scores.variants.map((variant) => `\`${context.variantSpecs[variant] ?? variant}\``).join(', ')}`,
    `- Answers: ${records.length}`,
    `- Reproduce: \`${context.command}\``,
    '',
    '## How to read it',
    '',
    'Win rates count a win as 1 and a tie as ½ over the questions that have both answers; 0.5 means no different ' +
      'from the reference. A set\'s rate is the mean of its preferences\' rates. Brackets hold 95 % percentile-' +
      'bootstrap intervals, resampling the questions within each preference. "Ahead of pref" counts the ' +
      'preferences whose win rate against pref is above 0.5. ' +
      (context.judgeModel ? `The judge's verdict is the probability of the tokens " A" and " B" after "Better ` +
        `response: Response", as a share of the two, averaged over both orders; a verdict is a win or a loss when ` +
        `the shares differ by more than ${CONFIDENCE_MARGIN} ("confident"), a tie otherwise; "orders agree" is the ` +
        'share of pairs where both orders put the same response ahead. ' : '') +
      'Fluency is the mean negative log-likelihood per answer token (token-weighted over the answers) under the ' +
      'evaluated model, with the plain prompt (no preference) and with the preference prompt: lower reads as more ' +
      'natural to the model. Following a preference makes text less likely under the plain prompt, degenerate ' +
      'text makes it less likely under both; "vs pref" divides by the preference prompt\'s answers to the same ' +
      'questions. Degeneration is measured on the text: "invented words" is the share of alphabetic words of four ' +
      'letters or more that the Hunspell dictionary of the answer\'s language (English, French, German or Spanish, ' +
      'detected per answer by its function words) does not know, pooled over the answers; code and names count ' +
      'too, alike for every variant. "echo" is the share of an answer\'s words that are content words of the ' +
      'preference text (base: the words unasked), "repetition" the share of its word 3-grams that repeat an ' +
      'earlier one; both are means over the answers. ' +
      '"mean s" is the guidance scale the answers\' tokens got, token-weighted: the method\'s own ' +
      'unless a KL budget lowered it ("–" where the answers do not record it). tokens/s is the generation speed ' +
      'of one answer.',
    '',
    ...setSections,
    '## What the proxies can and cannot show',
    '',
    ...Object.entries(scores.proxies).map(([name, description]) => `- \`${name}\`: ${description}`),
    '',
    'A proxy measures one surface property of the text that goes with the preference (length, lexicon ' +
      'sentiment, part-of-speech formality, grade level, lexical diversity, flattery or pirate phrases, list and ' +
      'heading lines, function words of a language, exclamations). It shows whether decoding moved that property, ' +
      'and in which direction. It cannot show whether the answer is correct, helpful or fluent, and it can be won ' +
      'by degenerate text (a one-word answer is very concise; a list of rare words is diverse). Read the proxy win ' +
      'rates together with the fluency, the examples and, where run, the judge.',
    '',
    examples(scores, records),
    '',
  ].join('\n');
  write('report.md', report);
  return { files, png };
}
