/**
 * Fluency: how likely each answer's tokens are under the evaluated model,
 * through the library's scoring API, as a mean negative log-likelihood per
 * token, under two prompts:
 * - the plain prompt (the run's system prompt, no preference): how natural
 *   the text reads to the model as it is. Degenerate decoding (invented
 *   words, echoed fragments, broken grammar) raises it, but so does
 *   following a preference the plain prompt did not ask for (French is
 *   unlikely under an English prompt), so a variant is compared with the
 *   preference prompt's answers to the same questions, not with base's;
 * - the preference prompt (the system prompt with the preference, as `pref`
 *   decodes): how natural the text reads to the model that was asked for
 *   the preference. Realignment pushes answers beyond what that prompt
 *   alone produces, so its NLL rises too, but text that is fluent and
 *   follows the preference stays likely under it, while degenerate text does
 *   not.
 *
 * @packageDocumentation
 */
import type { Scorer } from '../lib/index';
import type { FluencyScore, ResponseRecord } from './runner';

/** One line of fluency.jsonl. */
export interface FluencyRecord {
  key: string;
  /** Null for an empty answer. */
  fluency: FluencyScore | null;
}

/** The answers' order for scoring: by question, so that consecutive calls share the prompt in the scorer's cache. */
export function scoringOrder(records: readonly ResponseRecord[]): ResponseRecord[] {
  return [...records].sort((a, b) => a.questionSet.localeCompare(b.questionSet) || a.questionIndex - b.questionIndex);
}

/** The system prompt of the `pref` sequence: the preference after a space, as the engine joins them. */
function preferencePrompt(systemPrompt: string, preference: string): string {
  return systemPrompt === '' ? preference : `${systemPrompt} ${preference}`;
}

/** Scores one answer, from its generated tokens when recorded, else its text. */
export async function fluencyOf(scorer: Scorer, record: ResponseRecord, signal?: AbortSignal): Promise<FluencyRecord> {
  const continuation = record.tokenIds && record.tokenIds.length > 0 ? record.tokenIds : record.response;
  if (continuation.length === 0) return { key: record.key, fluency: null };
  const { systemPrompt } = record.parameters;
  const plain = await scorer.score({ systemPrompt, question: record.question }, continuation, { signal });
  const preferred = record.preferenceText === null ? null : await scorer.score(
    { systemPrompt: preferencePrompt(systemPrompt, record.preferenceText), question: record.question },
    continuation, { signal });
  return {
    key: record.key,
    fluency: { tokens: plain.tokens.length, plainNll: plain.meanNll, preferenceNll: preferred?.meanNll ?? null },
  };
}
