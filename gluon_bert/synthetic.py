"""Procedural, seeded data for offline demos and tests.

* `nli_task`: a small 3-class NLI task in English-like sentences.  The label is
  a function of how the hypothesis relates to the premise (same subject or not,
  same or different colour / verb / place, negation), never of the hypothesis
  alone, and the cues are single words, so a 2-layer BERT learns it quickly.
* `wikitext_lines`: text in the layout of WikiText-2's `wiki.train.tokens` whose
  paragraphs follow a topic and a fixed sentence order, so masked-LM and
  next-sentence prediction losses both fall within a few hundred steps.
"""
import json
import os
import random

from .snli import LABELS, LABEL_NAMES, SNLIData

__all__ = ['nli_task', 'write_nli_file', 'wikitext_lines', 'write_wikitext']

# ---------------------------------------------------------------------------
# NLI

SUBJECTS = ['dog', 'cat', 'man', 'woman', 'boy', 'girl', 'horse', 'bird', 'child', 'farmer']
COLOURS = ['red', 'blue', 'green', 'black', 'white', 'brown', 'yellow', 'gray']
VERBS = ['runs', 'sits', 'sleeps', 'jumps', 'swims', 'stands']   # mutually exclusive
PLACES = ['park', 'street', 'house', 'field', 'garden', 'forest']  # mutually exclusive


def _other(rng, words, *excluded):
    """A word of `words` that is none of `excluded`."""
    while True:
        word = rng.choice(words)
        if word not in excluded:
            return word


def _premise(rng):
    """A scene: subject, colour, verb, place and an optional companion."""
    s = rng.choice(SUBJECTS)
    scene = dict(s=s, c=rng.choice(COLOURS), v=rng.choice(VERBS), pl=rng.choice(PLACES),
                 comp=_other(rng, SUBJECTS, s) if rng.random() < 0.5 else None)
    text = 'a {c} {s} {v} in the {pl}'.format(**scene)
    if scene['comp']:
        text += ' with a ' + scene['comp']
    return scene, text


# Statements about one subject `s`, each naming some facts of a scene.
_STATEMENTS = [
    'a {c} {s} {v}',
    'the {s} is {c}',
    'the {s} is in the {pl}',
    'a {s} {v} in the {pl}',
    'the {c} {s} is in the {pl}',
]
_NEGATIONS = ['the {s} is not {c}', 'the {s} is not in the {pl}']


def _entailment(rng, scene):
    """Same subject, only facts of the premise."""
    if scene['comp'] and rng.random() < 0.15:
        return 'the {s} is with a {comp}'.format(**scene)
    return rng.choice(_STATEMENTS).format(**scene)


def _contradiction(rng, scene):
    """Same subject, one fact changed (colour, verb or place) or negated."""
    if rng.random() < 0.3:
        return rng.choice(_NEGATIONS).format(**scene)
    template = rng.choice(_STATEMENTS)
    changeable = [key for key in ('c', 'v', 'pl') if '{%s}' % key in template]
    key = rng.choice(changeable)
    words = {'c': COLOURS, 'v': VERBS, 'pl': PLACES}[key]
    return template.format(**dict(scene, **{key: _other(rng, words, scene[key])}))


def _neutral(rng, scene):
    """Another subject with the premise's facts, or a companion not stated."""
    if rng.random() < 0.15:
        comp = _other(rng, SUBJECTS, scene['s'], scene['comp'])
        return 'the {s} is with a {comp}'.format(**dict(scene, comp=comp))
    s2 = _other(rng, SUBJECTS, scene['s'], scene['comp'])
    template = rng.choice(_STATEMENTS + _NEGATIONS)
    return template.format(**dict(scene, s=s2))


_HYPOTHESIS = {'entailment': _entailment, 'contradiction': _contradiction, 'neutral': _neutral}


def nli_task(num_pairs, seed=0):
    """`num_pairs` (premise, hypothesis, label) examples, classes balanced
    (they differ in size by at most one), as an SNLIData triple."""
    rng = random.Random(seed)
    names = [LABEL_NAMES[i % len(LABEL_NAMES)] for i in range(num_pairs)]
    rng.shuffle(names)
    premises, hypotheses = [], []
    for name in names:
        scene, premise = _premise(rng)
        premises.append(premise)
        hypotheses.append(_HYPOTHESIS[name](rng, scene))
    return SNLIData(premises, hypotheses, [LABELS[name] for name in names])


def write_nli_file(path, num_pairs, seed=0, fmt='tsv'):
    """Write `nli_task(num_pairs, seed)` as a simple TSV
    (`gold_label<TAB>sentence1<TAB>sentence2`) or as JSON lines; returns `path`."""
    premises, hypotheses, labels = nli_task(num_pairs, seed)
    rows = zip(labels, premises, hypotheses)
    if fmt == 'tsv':
        lines = ['gold_label\tsentence1\tsentence2\n']
        lines += ['%s\t%s\t%s\n' % (LABEL_NAMES[y], p, h) for y, p, h in rows]
    elif fmt == 'jsonl':
        lines = [json.dumps({'gold_label': LABEL_NAMES[y], 'sentence1': p, 'sentence2': h}) + '\n'
                 for y, p, h in rows]
    else:
        raise ValueError("fmt must be 'tsv' or 'jsonl', got %r" % fmt)
    _write_lines(path, lines)
    return path


# ---------------------------------------------------------------------------
# WikiText-like text

# Each kind of topic has its own nouns, so the words of a paragraph agree.
KINDS = {
    'river': dict(features=['water', 'fish', 'banks', 'bridges'], builders=['farmers', 'fishermen']),
    'castle': dict(features=['walls', 'towers', 'gates', 'halls'], builders=['kings', 'soldiers']),
    'city': dict(features=['markets', 'streets', 'squares', 'houses'], builders=['merchants', 'settlers']),
    'ship': dict(features=['guns', 'masts', 'engines', 'decks'], builders=['sailors', 'engineers']),
    'church': dict(features=['bells', 'windows', 'altars', 'organs'], builders=['monks', 'priests']),
    'mountain': dict(features=['peaks', 'glaciers', 'forests', 'caves'], builders=['climbers', 'hunters']),
    'album': dict(features=['songs', 'singles', 'lyrics', 'covers'], builders=['musicians', 'producers']),
    'game': dict(features=['levels', 'players', 'maps', 'units'], builders=['developers', 'designers']),
}
NAMES = ['Valdor', 'Mirana', 'Korvath', 'Elsmere', 'Tavros', 'Brennick', 'Oskaran', 'Lunaria',
         'Hathor', 'Quillon', 'Sarnia', 'Dunmore', 'Feyden', 'Galmir', 'Istara', 'Jorvik',
         'Kestrel', 'Lorwyn', 'Marrow', 'Norcross', 'Orlen', 'Pellam', 'Rivka', 'Stenhal',
         'Tamsin', 'Ulmar', 'Varen', 'Wexley', 'Yorath', 'Zanthe']
COUNTRIES = ['Ardenia', 'Belmark', 'Calvara', 'Dornland', 'Estova', 'Fennmoor']
REGIONS = ['north', 'south', 'east', 'west', 'centre']
ADJECTIVES = ['large', 'small', 'famous', 'long', 'great', 'grand']
CENTURIES = ['twelfth', 'fourteenth', 'sixteenth', 'eighteenth', 'nineteenth', 'twentieth']
EVENTS = ['damaged', 'rebuilt', 'restored', 'praised', 'attacked', 'visited']
STATES = ['popular', 'quiet', 'protected', 'busy', 'open', 'well known']
VISITORS = ['tourists', 'students', 'pilgrims', 'families', 'artists', 'critics']
PERIODS = ['year', 'summer', 'winter', 'spring', 'month', 'week']
SECTIONS = ['History', 'Description', 'Reception', 'Legacy', 'Geography']

# Sentence i of a paragraph uses template i (the order is what NSP can learn).
_SENTENCES = [
    '{name} is a {adj} {kind} in the {region} of {country}',
    'the {kind} was first made by {builders} in the {century} century',
    'in the {century} century the {kind} was {event} by the {builders} of {country}',
    '{name} is known for its {feature} and its {feature2}',
    'the {feature} of {name} were {event} many times',
    'today the {kind} is {state} and {state2}',
    'many {visitors} come to {name} every {period}',
    'the {visitors} say that the {kind} is {adj} and {state}',
]


def _topic(rng):
    """What an article is about: the facts all its paragraphs share."""
    kind = rng.choice(sorted(KINDS))
    return dict(name=rng.choice(NAMES), kind=kind, country=rng.choice(COUNTRIES),
                region=rng.choice(REGIONS), builders=rng.choice(KINDS[kind]['builders']))


def _paragraph(rng, topic):
    """3 to 6 consecutive sentences about `topic`, in template order."""
    feature, feature2 = rng.sample(KINDS[topic['kind']]['features'], 2)
    state, state2 = rng.sample(STATES, 2)
    facts = dict(topic, adj=rng.choice(ADJECTIVES), century=rng.choice(CENTURIES),
                 event=rng.choice(EVENTS), feature=feature, feature2=feature2,
                 state=state, state2=state2, visitors=rng.choice(VISITORS),
                 period=rng.choice(PERIODS))
    count = rng.randint(3, 6)
    start = rng.randint(0, len(_SENTENCES) - count)
    sentences = [_SENTENCES[i].format(**facts) for i in range(start, start + count)]
    return ' ' + ' . '.join(sentences) + ' . \n'


def wikitext_lines(num_paragraphs=2000, seed=0):
    """Lines (with their newlines) in the layout of WikiText-2's
    `wiki.train.tokens`: ` = Title = ` headings, ` = = Section = = ` headings,
    blank ` ` lines and paragraphs of ` . `-joined sentences ending ` . `."""
    rng = random.Random(seed)
    lines = [' \n']
    written = 0
    while written < num_paragraphs:
        topic = _topic(rng)
        lines += [' = %s = \n' % topic['name'], ' \n']
        sections = [None] + rng.sample(SECTIONS, rng.randint(0, 2))
        for section in sections:
            if section:
                lines += [' = = %s = = \n' % section, ' \n']
            for _ in range(min(rng.randint(1, 3), num_paragraphs - written)):
                lines.append(_paragraph(rng, topic))
                written += 1
            lines.append(' \n')
            if written == num_paragraphs:
                break
    return lines


def write_wikitext(folder, num_paragraphs=2000, seed=0):
    """Write `wiki.train.tokens` (`num_paragraphs` paragraphs) and small
    `wiki.valid.tokens` and `wiki.test.tokens` into `folder`; returns `folder`."""
    os.makedirs(folder, exist_ok=True)
    small = max(10, num_paragraphs // 10)
    for name, count, file_seed in (('train', num_paragraphs, seed),
                                   ('valid', small, seed + 1),
                                   ('test', small, seed + 2)):
        _write_lines(os.path.join(folder, 'wiki.%s.tokens' % name),
                     wikitext_lines(count, file_seed))
    return folder


def _write_lines(path, lines):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
        f.writelines(lines)
    os.replace(tmp, path)
