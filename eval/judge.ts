/**
 * The pairwise LLM judge: a local model reads a question, a preference and
 * two answers and says which follows the preference better. Each pair is
 * judged twice, with the answers swapped, so that a judge that favours the
 * first (or second) position cancels out; the two verdicts are combined into
 * one outcome, and how often they agree is reported.
 *
 * @packageDocumentation
 */
import type { Model } from '../lib/index';
import type { Session } from '../lib/index';

/** What one judgement says: the first answer (A), the second (B), a tie, or nothing readable. */
export type Verdict = 'A' | 'B' | 'tie' | 'unparsed';

/** One pair's outcome for the candidate answer against the reference answer. */
export type PairOutcome = 'win' | 'loss' | 'tie';

/** The system prompt of the judge. */
export const judgeSystemPrompt =
  'You are an impartial judge. You compare two answers to the same question and decide which one follows ' +
  'the stated preference better. Reply with exactly one of: [[A]], [[B]] or [[TIE]].';

/** The user message of one judgement. */
export function judgePrompt(question: string, preference: string, answerA: string, answerB: string): string {
  return [
    `Preference: ${preference}`,
    '',
    `Question: ${question}`,
    '',
    `[Answer A]\n${answerA.trim()}\n[End of answer A]`,
    '',
    `[Answer B]\n${answerB.trim()}\n[End of answer B]`,
    '',
    'Which answer follows the preference better? Reply [[A]], [[B]] or [[TIE]].',
  ].join('\n');
}

/**
 * Reads a verdict from a judge's free-form reply, trying the most explicit
 * forms first:
 * 1. the bracketed form asked for: `[[A]]`, `[[B]]`, `[[TIE]]` (or `[[C]]` for a tie);
 * 2. the reply is just the letter: `A`, `(B)`, `"A."`;
 * 3. a named answer: "Answer B", "Response A is better", "assistant (A)";
 * 4. a letter opening the reply: "A: it is shorter";
 * 5. words of a tie: tie, equal(ly), both, neither, the same.
 * "A" used as an article ("A good answer ...") matches none of these.
 */
export function parseVerdict(reply: string): Verdict {
  const text = reply.trim();
  const bracketed = /\[\[\s*(A|B|TIE|C)\s*\]\]/i.exec(text);
  if (bracketed) {
    const choice = bracketed[1]!.toUpperCase();
    return choice === 'A' || choice === 'B' ? choice : 'tie';
  }
  const alone = /^[\s"'([*]*([AB])[\s"').\]*]*$/.exec(text);
  if (alone) return alone[1] as 'A' | 'B';
  const named = /\b(?:answer|response|assistant|output|option)\s*[("[]?\s*([AB])\b/i.exec(text);
  if (named) return named[1]!.toUpperCase() as 'A' | 'B';
  const opening = /^[\s"'([*]*([AB])\s*[).:\]]/.exec(text);
  if (opening) return opening[1] as 'A' | 'B';
  if (/\b(?:tie|equal(?:ly)?|both|neither|the same)\b/i.test(text)) return 'tie';
  return 'unparsed';
}

/** One judged pair: the two verdicts and what they amount to for the candidate. */
export interface PairJudgement {
  /** Verdict with the candidate shown as A. */
  candidateFirst: Verdict;
  /** Verdict with the candidate shown as B. */
  candidateSecond: Verdict;
  outcome: PairOutcome;
  /** Both orders named the same answer (or both a tie). */
  agreed: boolean;
}

/** A verdict seen from the candidate, given where the candidate was shown. */
function forCandidate(verdict: Verdict, candidatePosition: 'A' | 'B'): PairOutcome | undefined {
  if (verdict === 'unparsed') return undefined;
  if (verdict === 'tie') return 'tie';
  return verdict === candidatePosition ? 'win' : 'loss';
}

/**
 * Combines the two orders: the candidate wins (or loses) only if both orders
 * say so, or one says so and the other calls a tie; opposite verdicts, which
 * is what pure position bias produces, are a tie. An unreadable verdict
 * counts as a tie and as a disagreement.
 */
export function combineOrders(candidateFirst: Verdict, candidateSecond: Verdict): PairJudgement {
  const first = forCandidate(candidateFirst, 'A');
  const second = forCandidate(candidateSecond, 'B');
  const agreed = first !== undefined && first === second;
  let points = 0;
  for (const outcome of [first, second]) points += outcome === 'win' ? 1 : outcome === 'loss' ? -1 : 0;
  const outcome: PairOutcome = points > 0 ? 'win' : points < 0 ? 'loss' : 'tie';
  return { candidateFirst, candidateSecond, outcome, agreed };
}

/** Asks the judge one question and returns its raw reply. */
export type JudgeFunction = (question: string, preference: string, answerA: string, answerB: string) => Promise<string>;

/** Judges a candidate against a reference in both orders. */
export async function judgePair(
  judge: JudgeFunction,
  question: string,
  preference: string,
  candidate: string,
  reference: string,
): Promise<PairJudgement & { replies: [string, string] }> {
  const first = await judge(question, preference, candidate, reference);
  const second = await judge(question, preference, reference, candidate);
  return { ...combineOrders(parseVerdict(first), parseVerdict(second)), replies: [first, second] };
}

/** Most tokens a judge may reply with: the verdict comes first, anything after it is not read. */
export const JUDGE_MAX_TOKENS = 24;

/**
 * A {@link JudgeFunction} over a local model, decoding greedily with no
 * preference. Dispose the returned session when done.
 */
export function modelJudge(model: Model, options: { threads?: number; signal?: AbortSignal } = {}):
  { judge: JudgeFunction; session: Session } {
  const session = model.createSession({ systemPrompt: judgeSystemPrompt, method: 'base', threads: options.threads });
  const judge: JudgeFunction = async (question, preference, answerA, answerB) => {
    session.clearHistory();
    const result = await session.prompt(judgePrompt(question, preference, answerA, answerB), {
      maxTokens: JUDGE_MAX_TOKENS,
      signal: options.signal,
    });
    return result.text;
  };
  return { judge, session };
}
