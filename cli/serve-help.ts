/**
 * The text `amulet serve --help` prints.
 *
 * @packageDocumentation
 */
import { rules } from '../lib/option-rules';
import { realignFlags, samplingFlags } from './arguments';
import { helpOption, helpSection, ruleHelp } from './flags';
import { methodList, modelSection, preferenceSection } from './help-text';
import { serverFlags } from './serve-arguments';

export function serveHelpText(): string {
  const intro = `amulet serve: an OpenAI-compatible HTTP server over a local model, whose answers
can be realigned toward preferences while they are decoded.

Usage:
  amulet serve --model <gguf|hf:…|url> [--host 127.0.0.1] [--port 8080]
               [--parallel N] [--queue N] [--api-key K] [-p "<preference>"] [--open] [options]

Endpoints (base URL http://<host>:<port>/v1):
  GET  /                      the playground: chat, compare and token views in a browser
  POST /v1/chat/completions   OpenAI's chat completions, streamed with "stream": true;
                              extension fields "preferences" and "amulet"
  GET  /v1/models             the model
  GET  /health                status and load (no API key needed)

A request with "preferences": [{ "text", "weight" }] (or strings) is realigned
toward them; "amulet": { "method", "alpha", ... } tunes the realignment, and
"amulet": { "trace": true } adds each token's trace to the answer (to each
chunk, streamed). A request without preferences gets those given here with
-p, else plain decoding (method base). Stop with Ctrl-C or SIGTERM: running
answers are aborted and the model is freed.`;

  const server = helpSection('Server', [
    ...ruleHelp(serverFlags),
    helpOption('--open', 'Open the playground (the page at /) in the default browser once listening.'),
    helpOption('-h, --help', 'Print this help.'),
  ]);
  const methods = `Methods (--method <name>, default ${rules.method.default}, for requests with preferences):
${methodList}`;
  return `${[
    intro,
    server,
    preferenceSection(),
    methods,
    helpSection('Realignment', ruleHelp(realignFlags.filter((name) => name !== 'method'))),
    helpSection('Decoding (defaults of requests that do not say; without --max-tokens an answer may fill the context)',
      ruleHelp(samplingFlags)),
    modelSection(),
    'Exit status: 0 once stopped, 1 when the model fails to load or the address cannot be bound, 2 for invalid arguments.',
  ].join('\n\n')}\n`;
}
