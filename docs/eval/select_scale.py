#!/usr/bin/env python3
"""Per-answer choice among guidance scales under a fluency budget, scored
from an `amulet eval` folder without generating anything.

For every (preference, question) the folder holds `pref`'s answer and one
answer per realigned variant, each with its NLL under the plain prompt and
under the preference prompt (`fluency.jsonl`), its proxies
(`responses.jsonl`) and the judge's verdict against `pref`
(`judgements.jsonl`). A selector keeps the candidates whose plain-prompt NLL
is at most `budget` × pref's on that question (pref itself always
qualifies) and picks one:

- `signal`: the candidate with the largest total log-ratio
  Σ (log p_pref − log p_plain) over its tokens, which the engine has while it
  decodes (both rows are in every batch); pref when none beats pref's own.
- `oracle`: the candidate with the best judge verdict plus proxy outcome
  against pref. It reads the evaluation's own verdicts, so it is an upper
  bound on what any per-answer choice among these candidates can reach, not a
  method.

The scores are computed as `amulet eval` computes them (eval/scores.ts): a
win counts 1 and a tie ½ (pref chosen is a tie on both); a preference is
ahead when its win rate is above 0.5; the NLL ratio is the token-weighted
mean over the set's answers divided by pref's on the same questions. No
intervals: the point is where each selector lands, not a test.

Usage: python3 docs/eval/select_scale.py FOLDER --candidates a,b,c
       [--budgets 1.1,1.3,1.5]
"""
import argparse
import collections
import json
from pathlib import Path

POINTS = {'win': 1.0, 'tie': 0.5, 'loss': 0.0}


def read_jsonl(path):
    with open(path, encoding='utf-8') as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load(folder):
    scores = json.loads((folder / 'scores.json').read_text(encoding='utf-8'))
    preferences = {entry['name']: entry for entry in scores['preferences']}
    fluency = {row['key']: row['fluency'] for row in read_jsonl(folder / 'fluency.jsonl')}
    verdicts = {
        (row['preference'], row['questionSet'], row['questionIndex'], row['variant']): row['outcome']
        for row in read_jsonl(folder / 'judgements.jsonl')
    }
    answers = collections.defaultdict(dict)
    for row in read_jsonl(folder / 'responses.jsonl'):
        if row['preference'] is None:
            continue
        row['fluency'] = row.get('fluency') or fluency.get(row['key'])
        answers[(row['preference'], row['questionSet'], row['questionIndex'])][row['variant']] = row
    return preferences, verdicts, answers


def proxy_outcome(preference, candidate, reference):
    a = candidate['proxies'][preference['proxy']]
    b = reference['proxies'][preference['proxy']]
    if a == b:
        return 0.5
    return 1.0 if (a > b) == (preference['direction'] == 'higher') else 0.0


def tally(answers, preferences, candidates, select, budget, judge):
    """Each preference's outcomes and NLL sums for the answers `select` picks, and the picks per set."""
    per_preference = collections.defaultdict(lambda: {'proxy': [], 'judge': [], 'nll': [[0.0, 0], [0.0, 0]]})
    picks = collections.defaultdict(collections.Counter)
    for key, variants in sorted(answers.items()):
        if 'pref' not in variants or any(c not in variants for c in candidates):
            continue
        reference = variants['pref']
        limit = budget * reference['fluency']['plainNll']
        allowed = [c for c in candidates if variants[c]['fluency']['plainNll'] <= limit]
        chosen = select(key, variants, allowed)
        preference = preferences[key[0]]
        entry = per_preference[key[0]]
        entry['proxy'].append(proxy_outcome(preference, variants[chosen], reference))
        entry['judge'].append(judge(key, chosen))
        for sums, answer in zip(entry['nll'], (variants[chosen], reference)):
            sums[0] += answer['fluency']['plainNll'] * answer['fluency']['tokens']
            sums[1] += answer['fluency']['tokens']
        picks[preference['set']][chosen] += 1
    return per_preference, picks


def table_row(name, budget, entries, picks):
    """One selector at one budget over one set's preferences."""
    proxy = [sum(entry['proxy']) / len(entry['proxy']) for entry in entries]
    judged = [sum(entry['judge']) / len(entry['judge']) for entry in entries]

    def token_weighted(which):
        return (sum(entry['nll'][which][0] for entry in entries) /
                sum(entry['nll'][which][1] for entry in entries))

    shares = ', '.join(f'{variant} {count}' for variant, count in picks.most_common())
    return (f'| {name} | {budget:g} | {sum(proxy) / len(proxy):.2f} | {sum(w > 0.5 for w in proxy)}/{len(proxy)} | '
            f'{sum(judged) / len(judged):.2f} | {sum(w > 0.5 for w in judged)}/{len(judged)} | '
            f'×{token_weighted(0) / token_weighted(1):.2f} | {shares} |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('folder', type=Path)
    parser.add_argument('--candidates', required=True, help='realigned variants, comma-separated')
    parser.add_argument('--budgets', default='1.1,1.3,1.5,2', help='per-answer NLL budgets, × pref')
    args = parser.parse_args()
    candidates = args.candidates.split(',')
    preferences, verdicts, answers = load(args.folder)

    def judge(key, variant):
        return 0.5 if variant == 'pref' else POINTS[verdicts[(*key, variant)]]

    def signal(key, variants, allowed):
        def log_ratio(variant):
            fluency = variants[variant]['fluency']
            return (fluency['plainNll'] - fluency['preferenceNll']) * fluency['tokens']
        return max(['pref', *allowed], key=log_ratio)

    def oracle(key, variants, allowed):
        preference = preferences[key[0]]
        def outcome(variant):
            return judge(key, variant) + proxy_outcome(preference, variants[variant], variants['pref'])
        return max(['pref', *allowed], key=outcome)

    tables = collections.defaultdict(list)
    for name, select in (('signal', signal), ('oracle', oracle)):
        for budget in (float(value) for value in args.budgets.split(',')):
            per_preference, picks = tally(answers, preferences, candidates, select, budget, judge)
            for preference_set in sorted(picks):
                entries = [e for n, e in per_preference.items() if preferences[n]['set'] == preference_set]
                tables[preference_set].append(table_row(name, budget, entries, picks[preference_set]))
    for preference_set, rows in sorted(tables.items(), key=lambda item: item[0] != 'paper'):
        print(f'\n{preference_set}\n')
        print('| selector | budget | proxy win vs pref | ahead | judge win vs pref | ahead | NLL / pref (plain) | picks |')
        print('|---|---:|---:|---:|---:|---:|---:|---|')
        print('\n'.join(rows))


if __name__ == '__main__':
    main()
