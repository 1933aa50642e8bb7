/**
 * The text `amulet --help` prints. The library options' lines come from its
 * rules table, so they state the same bounds and defaults as its validation.
 *
 * @packageDocumentation
 */
import { rules } from '../lib/option-rules';
import { modelFlags, outputControlFlags, realignFlags, samplingFlags } from './arguments';
import { helpOption as option, helpSection as section, ruleHelp } from './flags';
import { DEFAULT_MODEL } from './model-loading';

/** The methods, one a line, as the helps list them. */
export const methodList = `  amulet            the paper's realignment, computed in closed form
  amulet-iterative  the paper's literal K-step loop: same answer, slower
  la                Linear Alignment: z_p + ratio * (z_p - z_b) on the logits
  pref              the preference texts in the system prompt, nothing more
  base              no preference at all`;

/** The help of the preference flags (and --system), which every command that runs a model takes. */
export function preferenceSection(): string {
  return section('Preferences', [
    option('-p, --preference <text>',
      'A preference to follow, taken verbatim; repeat it for several.'),
    option('-w, --weight <n>',
      'Weight of the earliest --preference before it that has no weight yet (1 if none is given); a ' +
      'negative weight steers away from the preference. Both of these give A weight 2 and B weight -1:\n' +
      '  -p A -w 2 -p B -w -1\n' +
      '  -p A -p B -w 2 -w -1'),
    option('    --preference-file <json>',
      'Preferences from a JSON array of texts or { "text", "weight" } objects, after those of -p.'),
    ...ruleHelp(['systemPrompt']),
  ]);
}

/** The help of --model and the flags that load and place it. */
export function modelSection(): string {
  return section('Model', [
    option('    --model <path|hf:…|url>',
      'The GGUF to run: a file, a Hugging Face file (hf:<owner>/<repo>/<file.gguf>[@<revision>]) or ' +
      'quantisation (hf:<owner>/<repo>:<quant>), or an https URL; downloads are cached in $AMULET_MODELS_DIR or ' +
      `~/.cache/amulet-llm/models, with HF_TOKEN and HF_ENDPOINT honoured (default ${DEFAULT_MODEL}).`),
    ...ruleHelp(modelFlags),
  ]);
}

/** The full `--help` text, defaults included. */
export function helpText(): string {
  const intro = `amulet: answer a question with a local LLM, realigned toward your preferences
while it decodes.

Usage:
  amulet "<question>" --preference "<text>" [--weight <n>] [--model <gguf|hf:…>] [options]
  amulet eval --questions <json> [options]    (see amulet eval --help)
  amulet chat --model <gguf|hf:…> [options]   a conversation in the terminal (amulet chat --help)
  amulet serve --model <gguf|hf:…> [options]  an OpenAI-compatible server (amulet serve --help)
  amulet rpc-server [--port 50052] [options]  (see amulet rpc-server --help)

Amulet (Zhang et al., ICLR 2025) compares, at every token, what the model would
say with and without your preference in the system prompt, and solves a small
online-learning problem that pushes the next-token distribution further in the
preference's direction. Nothing is trained: the realignment happens during
decoding, at the cost of one extra sequence per preference.

Examples:
  amulet "How do I boil an egg?" --model model.gguf \\
    --preference "Your answer should be concise as much as possible."
  amulet "Describe autumn." --model model.gguf -p "Be poetic." -w 1.5 \\
    -p "Use technical jargon." -w -1
  amulet "Describe autumn." --model model.gguf -p "Be poetic." --compare`;

  const preferences = preferenceSection();

  const methods = `Methods (--method <name>, default ${rules.method.default}):
${methodList}`;

  const realignment = section('Realignment', [
    ...ruleHelp(realignFlags),
    option('    --compare',
      'Answer three times, with base, pref and --method (then amulet, amulet-iterative or la), and show the ' +
      'answers side by side on a terminal of 100 columns or more, one after another otherwise, each with its ' +
      'token count and tokens per second. Weights must not be negative: pref cannot follow them.'),
  ]);

  const decoding = section('Decoding', ruleHelp(samplingFlags));

  const outputControls = section('Output controls (after the realignment)', [
    ...ruleHelp(outputControlFlags),
    option('    --json-object',
      'The answer must be a JSON object (any); not with --grammar-file or --json-schema-file.'),
  ]);

  const model = modelSection();

  const output = section('Output', [
    option('    --json',
      'Print one JSON object on stdout and nothing else: the question, preferences, method, parameters and, ' +
      'per run (three with --compare), text, generatedTokenCount, tokensPerSecond, finishReason, stopString and ' +
      'guidanceScale.'),
    option('    --trace',
      'After the answer, print one line per token on stderr: the top token id and probability of the base ' +
      'sequence, the (first) preference sequence and the realigned distribution, and KL(realigned || base); ' +
      '"*" marks tokens where realignment changed the base\'s top choice.'),
    option('-h, --help', 'Print this help.'),
    option('    --version', 'Print the version.'),
  ]);

  const exitStatus = `Exit status: 0 on success, 1 when the model or the library fails (printed as
"amulet: <code>: <message>"), 2 for invalid arguments, 130 when interrupted
with Ctrl-C.`;

  return `${[intro, preferences, methods, realignment, decoding, outputControls, model, output, exitStatus].join('\n\n')}\n`;
}
