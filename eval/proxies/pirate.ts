/**
 * Persona proxy of "in the voice of a pirate": pirate-speech words and
 * phrases per 100 words. The lexicon was written for this harness from the
 * stock vocabulary of stage pirates (interjections, forms of address, the
 * "me"/"ye" pronouns, nautical nouns); it counts words, so it cannot tell a
 * pirate's voice from an answer about ships.
 *
 * @packageDocumentation
 */
import { lexiconMatcher } from './lexicon';

export const piratePhrases: readonly string[] = [
  'ahoy', 'arr', 'arrr', 'arrgh', 'avast', 'aye', 'aye aye', 'ye', 'yer', "ye've", 'me hearties', 'hearties',
  'matey', 'mateys', 'me lad', 'lad', 'lass', 'landlubber', 'landlubbers', 'scallywag', 'scallywags', 'savvy',
  'shiver me timbers', 'blimey', 'yo ho', 'yo-ho', 'yo ho ho', 'booty', 'plunder', 'treasure', 'doubloons',
  'grog', 'rum', 'cap\'n', 'captain', 'crew', 'ship', 'seas', 'seven seas', 'sail', 'sails', 'deck', 'plank',
  'walk the plank', 'jolly roger', 'buccaneer', 'buccaneers', 'pirate', 'pirates', "'tis", 'be ye', 'me ship',
];

const pirate = lexiconMatcher(piratePhrases);

/** Pirate phrases in `text`. */
export function pirateMatches(text: string): string[] {
  return pirate.matches(text);
}

/** Pirate phrases per 100 words; 0 for a text without words. */
export function pirateRate(text: string): number {
  return pirate.ratePer100Words(text);
}
