/**
 * How `amulet --compare` lays out its answers: three columns side by side on
 * a wide terminal, stacked sections anywhere else.
 *
 * @packageDocumentation
 */
import type { GenerationResult } from '../lib/index';
import { displayWidth, wrapText } from './text-wrap';

/** The narrowest terminal on which three columns stay readable. */
export const SIDE_BY_SIDE_MIN_COLUMNS = 100;

const COLUMN_SEPARATOR = ' │ ';
const RULE_CROSSING = '─┼─';

function padToWidth(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** What the view shows of one answer. */
export type ComparedAnswer = Pick<
  GenerationResult,
  'method' | 'text' | 'generatedTokenCount' | 'tokensPerSecond' | 'finishReason' | 'guidanceScale'
>;

/** "amulet (s = 4.65)": the method, and the guidance scale for those that realign. */
function answerTitle(answer: ComparedAnswer): string {
  const realigns = answer.method !== 'base' && answer.method !== 'pref';
  return realigns ? `${answer.method} (s = ${answer.guidanceScale.toFixed(2)})` : answer.method;
}

/** "24 tokens · 51.3 tok/s", and why the answer was cut short if it did not end on its own. */
export function answerStatistics(answer: ComparedAnswer): string {
  const statistics = `${answer.generatedTokenCount} tokens · ${answer.tokensPerSecond.toFixed(1)} tok/s`;
  if (answer.finishReason === 'maxTokens') return `${statistics} · cut at --max-tokens`;
  if (answer.finishReason === 'contextFull') return `${statistics} · context full`;
  return statistics;
}

function sideBySide(answers: readonly ComparedAnswer[], width: number): string {
  // One column of the terminal is left free so that full rows never wrap.
  const columnWidth = Math.floor((width - 1 - COLUMN_SEPARATOR.length * (answers.length - 1)) / answers.length);
  const row = (cells: readonly string[]): string =>
    cells.map((cell) => padToWidth(cell, columnWidth)).join(COLUMN_SEPARATOR).trimEnd();
  const rule = answers.map(() => '─'.repeat(columnWidth)).join(RULE_CROSSING);
  // Each section is as tall as its longest cell; shorter cells are padded with blank lines.
  const section = (texts: readonly string[]): string[] => {
    const cells = texts.map((text) => wrapText(text, columnWidth));
    const height = Math.max(...cells.map((cell) => cell.length));
    return Array.from({ length: height }, (_, index) => row(cells.map((cell) => cell[index] ?? '')));
  };
  return [
    ...section(answers.map(answerTitle)),
    rule,
    ...section(answers.map((answer) => answer.text)),
    rule,
    ...section(answers.map(answerStatistics)),
  ].join('\n') + '\n';
}

function stacked(answers: readonly ComparedAnswer[]): string {
  return answers
    .map((answer) => `── ${answerTitle(answer)} · ${answerStatistics(answer)} ──\n${answer.text.trim()}\n`)
    .join('\n');
}

/**
 * Lays out the answers for the terminal: side by side when `columns` (the
 * terminal width; undefined when stdout is not a terminal) is at least
 * {@link SIDE_BY_SIDE_MIN_COLUMNS}, otherwise as sections one after another,
 * each headed by its method, token count and tokens per second.
 */
export function renderComparison(answers: readonly ComparedAnswer[], columns: number | undefined): string {
  if (columns !== undefined && columns >= SIDE_BY_SIDE_MIN_COLUMNS) return sideBySide(answers, columns);
  return stacked(answers);
}
