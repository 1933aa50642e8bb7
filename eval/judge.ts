/**
 * The pairwise judge, read from probabilities: a local model is shown a
 * question, a preference and two responses, and its answer is opened for it
 * as "Better response: Response"; the verdict is the probability it gives the
 * next token being " A" or " B" (the scoring API, no text generated), so
 * every judgement is readable and carries its confidence.
 *
 * Each pair is judged in both orders, so that a judge that favours the first
 * (or second) position cancels out: the candidate's share P(candidate) /
 * (P(A) + P(B)) is averaged over the two orders. The verdict is confident
 * when the averaged shares differ by more than {@link CONFIDENCE_MARGIN}
 * (|P(candidate) − P(reference)| after averaging); a confident verdict is a
 * win or a loss, anything closer a tie. The orders agree when both put the
 * same response ahead.
 *
 * @packageDocumentation
 */

/** One pair's outcome for the candidate response against the reference response. */
export type PairOutcome = 'win' | 'loss' | 'tie';

/** The system prompt of the judge. */
export const judgeSystemPrompt = 'You are a strict evaluator of instruction following.';

/**
 * The user message of one judgement. It asks to judge the preference alone:
 * small judges otherwise reward the longer, more detailed response whatever
 * the preference says.
 */
export function judgePrompt(question: string, preference: string, responseA: string, responseB: string): string {
  return [
    'A user asked a question and stated a preference about the answer.',
    '',
    `Question: ${question}`,
    `Preference: ${preference}`,
    '',
    `[Response A]\n${responseA.trim()}\n[End of response A]`,
    '',
    `[Response B]\n${responseB.trim()}\n[End of response B]`,
    '',
    'Which response follows the preference more closely? Judge only the preference: do not reward detail, ' +
      'helpfulness or correctness that the preference does not ask for. Reply "Better response: Response A" or ' +
      '"Better response: Response B".',
  ].join('\n');
}

/** The start of the judge's answer, given to it; the verdict is its next token. */
export const VERDICT_PREFIX = 'Better response: Response';

/** The verdict tokens' texts, after {@link VERDICT_PREFIX}. */
export const VERDICT_CHOICES = [' A', ' B'] as const;

/** |P(candidate) − P(reference)| after averaging the orders above which a verdict is a win or a loss. */
export const CONFIDENCE_MARGIN = 0.2;

/**
 * Log-probabilities of the judge's next token being each of `choices`, after
 * the user message `prompt` (under {@link judgeSystemPrompt}) and the answer
 * prefix `prefix`.
 */
export type VerdictScorer = (prompt: string, prefix: string, choices: readonly string[]) => Promise<number[]>;

/** What the judge said in one order: the probabilities of " A" and " B". */
export interface OrderVerdict {
  a: number;
  b: number;
}

/** One judged pair. */
export interface PairJudgement {
  /** P(A) and P(B) with the candidate shown as A, then with the candidate shown as B. */
  orders: [OrderVerdict, OrderVerdict];
  /** The candidate's share P(candidate) / (P(A) + P(B)), averaged over the two orders (0 to 1). */
  candidateShare: number;
  outcome: PairOutcome;
  /** |P(candidate) − P(reference)| after averaging exceeds {@link CONFIDENCE_MARGIN}. */
  confident: boolean;
  /** Both orders put the same response ahead. */
  agreed: boolean;
  /** P(A) + P(B) averaged over the orders: how much of the judge's next-token mass went to a verdict at all. */
  verdictMass: number;
}

function share(ahead: number, other: number): number {
  const total = ahead + other;
  return total > 0 ? ahead / total : 0.5;
}

/** Combines the two orders' probabilities into the candidate's outcome. */
export function combineOrders(candidateFirst: OrderVerdict, candidateSecond: OrderVerdict): PairJudgement {
  const first = share(candidateFirst.a, candidateFirst.b);
  const second = share(candidateSecond.b, candidateSecond.a);
  const candidateShare = (first + second) / 2;
  // |P(c) − P(r)| with P(c) = share and P(r) = 1 − share.
  const confident = Math.abs(2 * candidateShare - 1) > CONFIDENCE_MARGIN;
  const outcome: PairOutcome = !confident ? 'tie' : candidateShare > 0.5 ? 'win' : 'loss';
  const agreed = (first > 0.5 && second > 0.5) || (first < 0.5 && second < 0.5);
  const verdictMass = (candidateFirst.a + candidateFirst.b + candidateSecond.a + candidateSecond.b) / 2;
  return { orders: [candidateFirst, candidateSecond], candidateShare, outcome, confident, agreed, verdictMass };
}

async function verdict(scorer: VerdictScorer, prompt: string): Promise<OrderVerdict> {
  const [a = -Infinity, b = -Infinity] = await scorer(prompt, VERDICT_PREFIX, VERDICT_CHOICES);
  return { a: Math.exp(a), b: Math.exp(b) };
}

/** Judges a candidate against a reference in both orders. */
export async function judgePair(
  scorer: VerdictScorer,
  question: string,
  preference: string,
  candidate: string,
  reference: string,
): Promise<PairJudgement> {
  const [judgement] = await judgeAgainst(scorer, question, preference, reference, [candidate]);
  return judgement!;
}

/**
 * Judges several candidates against one reference, in both orders: first
 * every prompt with the reference shown as A, then every prompt with the
 * candidate as A. Consecutive prompts of the first kind share everything up
 * to the second response, which a scorer that keeps its cache evaluates once.
 */
export async function judgeAgainst(
  scorer: VerdictScorer,
  question: string,
  preference: string,
  reference: string,
  candidates: readonly string[],
): Promise<PairJudgement[]> {
  const referenceFirst: OrderVerdict[] = [];
  for (const candidate of candidates) referenceFirst.push(await verdict(scorer, judgePrompt(question, preference, reference, candidate)));
  const judgements: PairJudgement[] = [];
  for (const [index, candidate] of candidates.entries()) {
    const candidateFirst = await verdict(scorer, judgePrompt(question, preference, candidate, reference));
    judgements.push(combineOrders(candidateFirst, referenceFirst[index]!));
  }
  return judgements;
}
