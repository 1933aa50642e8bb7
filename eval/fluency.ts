/**
 * Fluency: each answer's mean negative log-likelihood per token under the
 * evaluated model with the plain prompt (the run's system prompt, no
 * preference), through the library's scoring API. It measures how natural
 * the text reads to the model itself: degenerate decoding (invented words,
 * echoed fragments, broken grammar) raises it. An answer that follows a
 * preference the plain prompt did not ask for (French, a pirate's voice) is
 * less likely under the plain prompt too, so compare a variant with the
 * preference prompt's answers to the same questions, not with base's.
 *
 * @packageDocumentation
 */
import type { Scorer } from '../lib/index';
import type { ResponseRecord } from './runner';

/** One line of fluency.jsonl. */
export interface FluencyRecord {
  key: string;
  /** Null for an empty answer. */
  fluencyNll: number | null;
  tokens: number;
}

/** The answers' order for scoring: by question, so that consecutive calls share the prompt in the scorer's cache. */
export function scoringOrder(records: readonly ResponseRecord[]): ResponseRecord[] {
  return [...records].sort((a, b) => a.questionSet.localeCompare(b.questionSet) || a.questionIndex - b.questionIndex);
}

/** Scores one answer: its generated tokens when recorded, else its text. */
export async function fluencyOf(scorer: Scorer, record: ResponseRecord, signal?: AbortSignal): Promise<FluencyRecord> {
  const continuation = record.tokenIds && record.tokenIds.length > 0 ? record.tokenIds : record.response;
  if (continuation.length === 0) return { key: record.key, fluencyNll: null, tokens: 0 };
  const result = await scorer.score({ systemPrompt: record.parameters.systemPrompt, question: record.question },
    continuation, { signal });
  return { key: record.key, fluencyNll: result.meanNll, tokens: result.tokens.length };
}
