"""Procedural, seeded data for offline demos and tests.

* `nli_task`: a small 3-class NLI task in English-like sentences.  The premise
  describes a subject doing something somewhere, with or without its colour; the
  hypothesis states the subject's colour.  The label follows from comparing the
  two: the premise gives the same colour (entailment), another colour
  (contradiction) or none (neutral: it names a size where the others name the
  colour).  Neither the hypothesis alone nor the pair's length tells the label:
  every premise has seven words (one adjective, then a place or a companion,
  drawn alike whatever the label) and every hypothesis four.  A 2-layer BERT
  learns it to > 90 % accuracy.
* `wikitext_lines`: text in the layout of WikiText-2's `wiki.train.tokens` whose
  paragraphs follow a topic and a fixed sentence order: most masked words follow
  from their template and topic, and a true next sentence is the next template.
  A share of the paragraphs (half by default; all of them in the offline demo's
  corpus) describe scenes in the NLI task's words, whose later sentences repeat
  the first one's facts: a model pretrained on them knows the task's words and
  has learnt to find a masked colour in an earlier sentence.
"""
import json
import os
import random

from gluon_bert.data.snli import LABELS, LABEL_NAMES, SNLIData
from gluon_bert.fileio import write_text_atomic

__all__ = ['nli_task', 'write_nli_file', 'wikitext_lines', 'write_wikitext']

# ---------------------------------------------------------------------------
# NLI

SUBJECTS = ['dog', 'cat', 'man', 'woman', 'boy', 'girl', 'horse', 'bird', 'child', 'farmer']
COLOURS = ['red', 'blue', 'green', 'black']
VERBS = ['runs', 'sits', 'sleeps', 'jumps', 'walks', 'stands']
PLACES = ['park', 'street', 'house', 'field', 'garden', 'forest']
SIZES = ['small', 'big', 'young', 'tall']    # the adjective of neutral premises


def _other(rng, words, excluded):
    """A word of `words` other than `excluded`."""
    while True:
        word = rng.choice(words)
        if word != excluded:
            return word


def _premise_text(scene):
    """`a colour|size subject verb in the place` or `... with the companion`
    (seven words either way): a scene without a colour names its size."""
    where = ['with', 'the', scene['comp']] if scene['comp'] else ['in', 'the', scene['pl']]
    return ' '.join(['a', scene['c'] or scene['size'], scene['s'], scene['v']] + where)


def _scene(rng):
    """A subject, its verb, colour, size and place, and a companion half the
    time (drawn the same way whatever the label)."""
    scene = dict(s=rng.choice(SUBJECTS), v=rng.choice(VERBS), c=rng.choice(COLOURS),
                 pl=rng.choice(PLACES), size=rng.choice(SIZES))
    scene['comp'] = _other(rng, SUBJECTS, scene['s']) if rng.random() < 0.5 else None
    return scene


_CLAIMS = ['the {s} is {c}', 'a {c} {s} {v}', 'the {c} {s} is in the {pl}',
           'the {s} is {size}']


def _example(rng, name):
    """A (premise, hypothesis) pair with the label `name`: the hypothesis states
    the subject's colour; the premise gives that colour (entailment), another one
    (contradiction), or none (neutral)."""
    scene = _scene(rng)
    said = dict(scene)
    if name == 'contradiction':
        said['c'] = _other(rng, COLOURS, scene['c'])
    elif name == 'neutral':
        scene['c'] = None
    return _premise_text(scene), _CLAIMS[0].format(**said)


def scene_paragraph(rng):
    """Sentences about one scene, for the synthetic pretraining corpus: its words
    are the NLI task's, and the later sentences repeat facts of the first."""
    scene = _scene(rng)
    return [_premise_text(scene)] + [t.format(**scene) for t in _CLAIMS]


def nli_task(num_pairs, seed=0):
    """`num_pairs` (premise, hypothesis, label) examples, classes balanced
    (they differ in size by at most one), as an SNLIData triple.  Pair lengths
    carry no information about the label."""
    rng = random.Random(seed)
    names = [LABEL_NAMES[i % len(LABEL_NAMES)] for i in range(num_pairs)]
    rng.shuffle(names)
    premises, hypotheses = [], []
    for name in names:
        premise, hypothesis = _example(rng, name)
        premises.append(premise)
        hypotheses.append(hypothesis)
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
    write_text_atomic(path, ''.join(lines))
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


def wikitext_lines(num_paragraphs=2000, seed=0, scene_share=0.5):
    """Lines (with their newlines) in the layout of WikiText-2's
    `wiki.train.tokens`: ` = Title = ` headings, ` = = Section = = ` headings,
    blank ` ` lines and paragraphs of ` . `-joined sentences ending ` . `;
    a paragraph describes a scene of the NLI task with probability
    `scene_share`, else its article's topic."""
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
                if rng.random() < scene_share:
                    lines.append(' ' + ' . '.join(scene_paragraph(rng)) + ' . \n')
                else:
                    lines.append(_paragraph(rng, topic))
                written += 1
            lines.append(' \n')
            if written == num_paragraphs:
                break
    return lines


def write_wikitext(folder, num_paragraphs=2000, seed=0, scene_share=0.5):
    """Write `wiki.train.tokens` (`num_paragraphs` paragraphs) and small
    `wiki.valid.tokens` and `wiki.test.tokens` (`wikitext_lines` with
    `scene_share`) into `folder`; returns `folder`."""
    os.makedirs(folder, exist_ok=True)
    small = max(10, num_paragraphs // 10)
    for name, count, file_seed in (('train', num_paragraphs, seed),
                                   ('valid', small, seed + 1),
                                   ('test', small, seed + 2)):
        write_text_atomic(os.path.join(folder, 'wiki.%s.tokens' % name),
                          ''.join(wikitext_lines(count, file_seed, scene_share)))
    return folder
