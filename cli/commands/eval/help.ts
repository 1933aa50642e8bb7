/**
 * The text `amulet eval --help` prints.
 *
 * @packageDocumentation
 */
import { EVAL_DEFAULT_METHODS, EVAL_MAX_TOKENS, evalRuleFlags } from './arguments';
import { extendedPreferences, paperPreferences } from '../../../eval/preference-sets';
import { wrapText } from '../../text-wrap';
import { helpSection, ruleHelp } from '../../flags';

/** A set's names after its label, wrapped into the help's description column. */
function nameList(label: string, names: readonly string[]): string {
  return wrapText(`${label}: ${names.join(', ')}`, 50).join(`\n${' '.repeat(30)}`);
}

export function evalHelpText(): string {
  return `amulet eval: compare base, pref, la, amulet and beam search (and settings of
them) on question sets, as in the Amulet paper, scored by measurable proxies,
the fluency of the answers and optionally a local LLM judge.

Usage:
  amulet eval --questions <json> [--questions <json> ...] [--limit N]
              [--preference-set paper,extended] [--preferences a,b,...]
              [--preference-file <json>] [--methods ${EVAL_DEFAULT_METHODS.join(',')}]
              [--variant name=method:option=value ...] [--out <dir>] [--judge]

Inputs:
  --model <gguf|hf:…>         Model to evaluate (default: amulet's default).
  --questions <json>          A JSON array of { index, question }; repeat for
                              several sets, e.g. the paper's four.
  --limit <n>                 The first n questions of each set.
  --preference-set <a,b>      Built-in sets (default paper):
                              ${nameList('paper', paperPreferences.map((preference) => preference.name))}
                              (as "Your answer should be <adjective> as much as
                              possible.");
                              ${nameList('extended', extendedPreferences.map((preference) => preference.name))}.
                              Each set is reported on its own.
  --preferences <a,b,...>     Some preferences of the chosen sets (default all).
  --preference-file <json>    Custom preferences: [{ "name", "text" }], or the
                              paper's preferences.json format.

Methods (--methods, comma-separated; default ${EVAL_DEFAULT_METHODS.join(',')}):
  base    no preference (answered once per question, shared by all preferences)
  pref    the preference in the system prompt
  la      Linear Alignment (--ratio)
  amulet  Amulet (--alpha, --lambda, --eta, --iterations)
  beam    beam search over the preference prompt (--beams, --length-penalty)

  --variant <spec>            One more setting of a method under a name of its
                              own, compared beside the methods; repeat for
                              several. <spec> is name=method:option=value:...
                              with options alpha, lambda, eta, iterations,
                              ratio, plausibility, klBudget,
                              echoGuard=true|false and echoPrompt=w (amulet
                              and la: the preference's words alone as a
                              second preference at weight -w), e.g.
                              amulet-t0.1=amulet:plausibility=0.1.

${helpSection(`Decoding (greedy; --max-tokens defaults to ${EVAL_MAX_TOKENS} here, the paper's length)`,
    ruleHelp(evalRuleFlags))}

Scoring:
  --stored-only               Produce no answer: score, judge and report the
                              answers the folder holds (e.g. while another
                              process is still producing them).
  --no-fluency                Skip the fluency score: each answer's mean
                              negative log-likelihood per token under the
                              evaluated model with the plain prompt.
  --judge                     Have a local model compare each variant's answer
                              with pref's (and base's), in both orders; the
                              verdict is read from the probabilities of its
                              verdict tokens.
  --judge-model <gguf|hf:…>   The judge (default: Qwen2.5-Coder-1.5B-Instruct,
                              Q4_K_M, from Hugging Face).
  --judge-chat-template <n>   Its chat template.
  --judge-against <refs>      pref, base or pref,base (default): the answers
                              each variant's are compared with.

Output (--out, default ./amulet-eval):
  responses.jsonl   one answer per line: question, preference, variant,
                    parameters, response, token ids, timing, proxy values,
                    fluency
  judgements.jsonl  the judge's verdicts (with --judge)
  scores.json       win rates against base and pref with 95 % intervals,
                    mean proxies, fluency, tokens/s
  report.md         tables, charts (charts/*.svg, PNG when rsvg-convert exists)
                    and one example per preference

A run is resumable: run the same command again after an interruption and it
continues where it stopped, without repeating an answer. Settings that change
answers (model, max tokens, hyperparameters, a variant's definition) must
match the folder's run.json; new variants may be added to a folder.
`;
}
