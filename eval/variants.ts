/**
 * Variants: a method with some realignment options changed, under a name of
 * its own, so that one run compares several settings of a method side by
 * side (an ablation) with the answers of `base` and `pref` made once. A plain
 * method is the variant of that name with nothing changed.
 *
 * Written `name=method:option=value:...` on the command line, e.g.
 * `amulet-s1.5=amulet:alpha=1.3`; the options are the library's (alpha,
 * lambda, eta, iterations, ratio, plausibility, klBudget, and echoGuard=true|false),
 * checked against the rules table. `echoPrompt=w` (amulet and la only) adds a
 * second preference at weight −w: the preference's own content words with
 * no instruction around them (`echoPromptText` in eval/runner.ts), so that the contrast
 * cancels what copying those words gains and keeps what their meaning does.
 *
 * @packageDocumentation
 */
import { parseNumberText, requirement, rules, type NumberRule } from '../lib/option-rules';
import { AmuletError } from '../lib/index';

/** The methods the harness compares. `beam` is beam search over the preference prompt. */
export type EvalMethod = 'base' | 'pref' | 'la' | 'amulet' | 'beam';

export const evalMethods: readonly EvalMethod[] = ['base', 'pref', 'la', 'amulet', 'beam'];

/** The realignment options a variant may set. */
export type VariantOptionName = 'alpha' | 'lambda' | 'eta' | 'iterations' | 'ratio' | 'plausibility' | 'klBudget';

export const variantOptionNames: readonly VariantOptionName[] = ['alpha', 'lambda', 'eta', 'iterations', 'ratio',
  'plausibility', 'klBudget'];

/** A named setting of a method. */
export interface EvalVariant {
  name: string;
  method: EvalMethod;
  /** Options that differ from the run's. */
  options: Partial<Record<VariantOptionName, number>> & { echoGuard?: boolean; echoPrompt?: number };
}

/** The methods that can follow a negatively weighted preference, as `echoPrompt` adds. */
const echoPromptMethods: readonly EvalMethod[] = ['amulet', 'la'];


function invalid(message: string): AmuletError {
  return new AmuletError('ERR_INVALID_OPTION', message);
}

/** The variant that is a plain method. */
export function methodVariant(method: EvalMethod): EvalVariant {
  return { name: method, method, options: {} };
}

const NAME = /^[A-Za-z0-9][\w.+-]*$/;

/** Reads `name=method:option=value:...`. Throws ERR_INVALID_OPTION. */
export function parseVariant(spec: string): EvalVariant {
  const equals = spec.indexOf('=');
  const name = spec.slice(0, equals).trim();
  if (equals < 0 || !NAME.test(name)) {
    throw invalid(`a variant is written name=method:option=value:... with a name of letters, digits, . _ + - (got ${JSON.stringify(spec)})`);
  }
  const [methodName = '', ...settings] = spec.slice(equals + 1).split(':').map((part) => part.trim());
  const method = evalMethods.find((known) => known === methodName);
  if (!method) throw invalid(`variant ${name}: the method must be one of ${evalMethods.join(', ')} (got ${JSON.stringify(methodName)})`);
  if (evalMethods.includes(name as EvalMethod) && (name !== method || settings.length > 0)) {
    throw invalid(`variant ${name}: a method's own name cannot name another setting`);
  }
  const options: EvalVariant['options'] = {};
  for (const setting of settings) {
    const [key = '', value = ''] = setting.split('=').map((part) => part.trim());
    if (key === 'echoGuard') {
      if (value !== 'true' && value !== 'false') throw invalid(`variant ${name}: echoGuard must be true or false (got ${JSON.stringify(value)})`);
      options.echoGuard = value === 'true';
      continue;
    }
    if (key === 'echoPrompt') {
      if (!echoPromptMethods.includes(method)) throw invalid(`variant ${name}: echoPrompt needs method ${echoPromptMethods.join(' or ')}`);
      const weight = parseNumberText(rules.weight, value);
      if (typeof weight !== 'number' || weight <= 0) {
        throw invalid(`variant ${name}: echoPrompt must be a positive weight (got ${JSON.stringify(value)})`);
      }
      options.echoPrompt = weight;
      continue;
    }
    const option = variantOptionNames.find((known) => known === key);
    if (!option) {
      throw invalid(`variant ${name}: options are ${[...variantOptionNames, 'echoGuard', 'echoPrompt'].join(', ')} (got ${JSON.stringify(key)})`);
    }
    const rule: NumberRule<never> = rules[option];
    const parsed = parseNumberText(rule, value);
    if (typeof parsed !== 'number') throw invalid(`variant ${name}: ${option} must be ${requirement(rule)} (got ${JSON.stringify(value)})`);
    options[option] = parsed;
  }
  return { name, method, options };
}

/** The variant as written on the command line (and in run.json). */
export function formatVariant(variant: EvalVariant): string {
  const settings = Object.entries(variant.options).map(([key, value]) => `:${key}=${value}`).join('');
  return `${variant.name}=${variant.method}${settings}`;
}
