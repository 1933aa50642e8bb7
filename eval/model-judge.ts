/**
 * The judge on a real model, through the library's scoring API: a
 * {@link VerdictScorer} that reads the probabilities of a judge model's
 * verdict tokens.
 *
 * @packageDocumentation
 */
import type { Scorer } from '../lib/index';
import { judgeSystemPrompt, type VerdictScorer } from './judge';

/**
 * A {@link VerdictScorer} over `scorer`: each choice is scored as the last
 * token of `prefix + choice`, so every choice must add exactly one token to
 * the same tokens of `prefix` (" A" and " B" after "Response" do in the
 * vocabularies of common models); anything else throws, rather than compare
 * probabilities of different things.
 */
export function scorerVerdicts(scorer: Scorer, signal?: AbortSignal): VerdictScorer {
  return async (prompt, prefix, choices) => {
    const results = [];
    for (const choice of choices) {
      results.push(await scorer.score({ systemPrompt: judgeSystemPrompt, question: prompt }, prefix + choice, { signal }));
    }
    const shared = results[0]!.tokens.slice(0, -1);
    for (const [index, result] of results.entries()) {
      const same = result.tokens.length === shared.length + 1 && shared.every((token, i) => result.tokens[i] === token);
      if (!same) {
        throw new Error(`the judge's tokenizer does not make ${JSON.stringify(choices[index])} one token after ` +
          `${JSON.stringify(prefix)}: its verdict cannot be read from one next-token probability`);
      }
    }
    return results.map((result) => result.logProbs[result.logProbs.length - 1]!);
  };
}
