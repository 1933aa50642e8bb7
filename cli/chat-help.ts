/**
 * The text `amulet chat --help` prints.
 *
 * @packageDocumentation
 */
import { realignFlags, samplingFlags } from './arguments';
import { chatCommandHelp } from './chat-line';
import { helpOption, helpSection, ruleHelp } from './flags';
import { methodList, modelSection, preferenceSection } from './help-text';

export function chatHelpText(): string {
  const intro = `amulet chat: a conversation with a local model in the terminal, realigned
toward your preferences while it decodes; change them between turns.

Usage:
  amulet chat --model <gguf|hf:…|url> [-p "<preference>"] [--preference-file <json>] [options]

The conversation is kept from turn to turn (the KV cache too, so a turn
evaluates only its new tokens); when it outgrows the context, the oldest
exchanges are dropped. Without a preference the model answers as it is
(method base); with one, amulet realigns toward it. Lines come from stdin,
so a file of messages can be piped in; answers go to stdout, notes to stderr.
Ctrl-C stops the answer being written; when none is, Ctrl-C leaves (exit 0).`;

  return `${[
    intro,
    chatCommandHelp,
    preferenceSection(),
    `Methods (--method <name>; default amulet with preferences, base without):\n${methodList}`,
    helpSection('Realignment', ruleHelp(realignFlags.filter((name) => name !== 'method'))),
    helpSection('Decoding', ruleHelp(samplingFlags)),
    modelSection(),
    helpOption('-h, --help', 'Print this help.'),
  ].join('\n\n')}\n`;
}
