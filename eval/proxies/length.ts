/**
 * Length proxy of `concise` (shorter wins) and `verbose` (longer wins): the
 * answer's word count. The generated token count is recorded beside it by the
 * runner (it depends on the model's tokenizer, words do not).
 *
 * @packageDocumentation
 */
import { words } from './words';

/** Number of words (see {@link words}). */
export function wordCount(text: string): number {
  return words(text).length;
}
