/**
 * The text `amulet eval --help` prints.
 *
 * @packageDocumentation
 */
import { defaults } from '../lib/index';
import { EVAL_DEFAULT_METHODS, EVAL_MAX_TOKENS } from './eval-arguments';

export function evalHelpText(): string {
  return `amulet eval: compare base, pref, la, amulet and beam search on question sets,
as in the Amulet paper, scored by measurable proxies and optionally a local
LLM judge.

Usage:
  amulet eval --questions <json> [--questions <json> ...] [--limit N]
              [--preferences concise,verbose,... | --preference-file <json>]
              [--methods ${EVAL_DEFAULT_METHODS.join(',')}] [--out <dir>] [--judge <gguf>]

Inputs:
  --model <gguf>              Model to evaluate (default: SmolLM2-135M).
  --chat-template <name>      Chat template of the model (default: the GGUF's).
  --questions <json>          A JSON array of { index, question }; repeat for
                              several sets. The paper's four are in
                              shared/data/questions/.
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
  la      Linear Alignment (--ratio, default ${defaults.ratio})
  amulet  Amulet (--alpha ${defaults.alpha}, --lambda ${defaults.lambda}, --eta ${defaults.eta}, --iterations ${defaults.iterations})
  beam    beam search over the preference prompt (--beams, default 16;
          --length-penalty, default 1: hypotheses ranked by mean log-prob)

Decoding: greedy, --max-tokens (default ${EVAL_MAX_TOKENS}), --system <prompt>,
--threads <n>, --context-size <n>.

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
