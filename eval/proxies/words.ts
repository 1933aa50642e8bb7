/**
 * Word and sentence splitting shared by the proxies: one definition of a
 * "word" so that every per-word rate has the same denominator.
 *
 * @packageDocumentation
 */

/** A run of letters or digits, with inner apostrophes or hyphens ("don't", "well-known"). */
const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

/** The words of `text`, in order, as written. */
export function words(text: string): string[] {
  return text.match(WORD) ?? [];
}

/**
 * Sentences: runs of text ending in `.`, `!`, `?` or a line break (list items
 * and headings count as sentences, as a reader sees them). Pieces without a
 * word are dropped; a text with words has at least one sentence.
 */
export function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+|\n+/u).filter((piece) => words(piece).length > 0);
}
