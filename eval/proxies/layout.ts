/**
 * Layout proxies of the formatting preferences, read from the Markdown an
 * answer is written in:
 * - `listShare`: the share of non-empty lines that are list items (`-`, `*`,
 *   `+`, `•` or `1.` / `1)` at the start), 0 to 1; higher is more of a list;
 * - `headings`: Markdown heading lines (`#` to `######` and a space at the
 *   start); higher means more sectioned;
 * - `lines`: non-empty lines; a single paragraph of prose is one line, and
 *   every list item, heading or paragraph break adds one.
 *
 * @packageDocumentation
 */

const LIST_ITEM = /^\s*(?:[-*+•]|\d{1,3}[.)])\s+\S/u;
const HEADING = /^\s{0,3}#{1,6}\s+\S/u;

/** The lines of `text` that hold something besides whitespace. */
export function nonEmptyLines(text: string): string[] {
  return text.split(/\r?\n/u).filter((line) => line.trim() !== '');
}

/** Share of non-empty lines that are list items; 0 for a text without lines. */
export function listItemShare(text: string): number {
  const lines = nonEmptyLines(text);
  return lines.length === 0 ? 0 : lines.filter((line) => LIST_ITEM.test(line)).length / lines.length;
}

/** Number of Markdown heading lines. */
export function headingCount(text: string): number {
  return nonEmptyLines(text).filter((line) => HEADING.test(line)).length;
}

/** Number of non-empty lines. */
export function lineCount(text: string): number {
  return nonEmptyLines(text).length;
}
