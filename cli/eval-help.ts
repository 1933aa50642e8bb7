/**
 * The text `amulet eval --help` prints.
 *
 * @packageDocumentation
 */
import { EVAL_DEFAULT_METHODS, EVAL_MAX_TOKENS, evalRuleFlags } from './eval-arguments';
import { helpSection, ruleHelp } from './flags';

export function evalHelpText(): string {
  return `amulet eval: compare base, pref, la, amulet and beam search on question sets,
as in the Amulet paper, scored by measurable proxies and optionally a local
LLM judge.

Usage:
  amulet eval --questions <json> [--questions <json> ...] [--limit N]
              [--preferences concise,verbose,... | --preference-file <json>]
              [--methods ${EVAL_DEFAULT_METHODS.join(',')}] [--out <dir>] [--judge <gguf>]

Inputs:
  --model <gguf|hf:…>         Model to evaluate (default: amulet's default).
  --questions <json>          A JSON array of { index, question }; repeat for
                              several sets, e.g. the paper's four.
  --limit <n>                 The first n questions of each set.
  --preferences <a,b,...>     Some of the paper's eight: creative, sycophantic,
                              verbose, complex, formal, pleasant, concise,
                              uplifting (default: all eight, as "Your answer
                              should be <adjective> as much as possible.").
  --preference-file <json>    Custom preferences: [{ "name", "text" }], or the
                              paper's preferences.json format.

Methods (--methods, comma-separated; default ${EVAL_DEFAULT_METHODS.join(',')}):
  base    no preference (answered once per question, shared by all preferences)
  pref    the preference in the system prompt
  la      Linear Alignment (--ratio)
  amulet  Amulet (--alpha, --lambda, --eta, --iterations)
  beam    beam search over the preference prompt (--beams, --length-penalty)

${helpSection(`Decoding (greedy; --max-tokens defaults to ${EVAL_MAX_TOKENS} here, the paper's length)`,
    ruleHelp(evalRuleFlags))}

Judge:
  --judge <gguf>              A local model that compares each method's answer
                              with base's and with pref's, in both orders.
  --judge-chat-template <n>   Its chat template.

Output (--out, default ./amulet-eval):
  responses.jsonl   one answer per line: question, preference, method,
                    parameters, response, tokens, timing, proxy values
  judgements.jsonl  the judge's verdicts (with --judge)
  scores.json       win rates against base and pref, mean proxies, tokens/s
  report.md         tables, charts (charts/*.svg, PNG when rsvg-convert exists)
                    and one example per preference

A run is resumable: run the same command again after an interruption and it
continues where it stopped, without repeating an answer. Settings that change
answers (model, max tokens, hyperparameters) must match the folder's run.json.
`;
}
