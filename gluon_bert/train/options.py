"""Run options: one dataclass per job, one field per option.

`PretrainArgs` and `FinetuneArgs` hold every option of the two jobs, with its
default (the chapter's) and its help text.  The scripts' command lines are
generated from them (`build_parser`, `parse_args`), the object travels whole from
the command line to the training loop, the output folder gets it as `args.json`,
and `--resume` compares the saved fields that change the computation with the new
ones (`resume_mismatch`).  The model's architecture is not here: it lives in
`BERTConfig` (the `preset` option names one).

A job class may give other defaults for one of its datasets (`DATASET_DEFAULTS`:
the synthetic data's demo recipe) and named recipes (`RECIPES`, chosen with
`--recipe`: pretraining's `fast`); `parse_args` applies them to the options the
command line does not set, so an explicit flag always wins.
"""
import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass, field

from gluon_bert.fileio import write_json_atomic

__all__ = ['TrainArgs', 'PretrainArgs', 'FinetuneArgs', 'TaskArgs', 'option', 'build_parser',
           'parse_args', 'dataset_defaults', 'recipe_defaults', 'computation_fields', 'resume_mismatch',
           'save_args', 'load_args', 'ARGS_FILE']

ARGS_FILE = 'args.json'


def option(default, help, flags=(), choices=None, computation=True, metavar=None,
           minimum=None, convert=None):
    """A dataclass field that is also a command-line option.  `flags`: extra
    spellings (aliases); `computation`: whether the value changes what is
    computed (compared on `--resume`); `minimum`: the smallest allowed value;
    `convert`: the function from the command-line text to the value (raising
    argparse.ArgumentTypeError), instead of the one of the field's type."""
    meta = dict(help=help, flags=tuple(flags), choices=choices, computation=computation,
                metavar=metavar, minimum=minimum, convert=convert)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _names(text, what):
    names = [name.strip() for name in text.split(',')]
    if not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError('expected distinct comma-separated %s, got %r'
                                         % (what, text))
    return names


def _parse_text_columns(text):
    names = _names(text, 'column names')
    if len(names) > 2:
        raise argparse.ArgumentTypeError('one or two text columns, not %d: %r'
                                         % (len(names), text))
    return names


def _parse_labels(text):
    names = _names(text, 'labels')
    if len(names) < 2:
        raise argparse.ArgumentTypeError('at least two labels, got %r' % text)
    return names


def _fraction(zero_allowed):
    """An option converter to a float in [0, 1] (`zero_allowed`) or in (0, 1]."""
    def convert(text):
        value = float(text)
        if not (0.0 <= value if zero_allowed else 0.0 < value) or value > 1.0:
            raise argparse.ArgumentTypeError('must be in %s0, 1], got %s'
                                             % ('[' if zero_allowed else '(', text))
        return value
    return convert


# The optimizer of pretraining's `fast` recipe and of the offline demo: AdamW
# (GluonNLP's BERTAdam) at peak lr 3e-3, 10 % warmup then linear decay, clipped.
FAST_OPTIMIZER = dict(lr=3e-3, warmup_ratio=0.1, weight_decay=0.01, clip_grad_norm=1.0,
                      optimizer_params={'beta2': 0.98})


BATCH_SIZE_HELP = ('GLOBAL batch size: the examples of one optimizer step over all devices '
                   'and all workers (each of W workers takes 1/W of every batch, so the '
                   'update and --lr do not depend on W)')
BUCKET_HELP = ('N > 0: batches from N length buckets (GluonNLP FixedBucketSampler), much '
               'faster (see BENCHMARKS.md); 0: shuffled batches, as the chapter. Either way '
               'a batch is padded only to its longest example')


@dataclass
class TrainArgs:
    """Options both jobs share: devices, batching, optimizer, checkpoints, output."""
    batch_size: int = option(256, BATCH_SIZE_HELP, minimum=1)
    lr: float = option(0.01, 'learning rate (peak learning rate with a warmup)')
    optimizer: str = option('adam', "MXNet optimizer name; 'adam' with --weight-decay > 0 "
                            "is AdamW (GluonNLP's BERTAdam), 'adamw' always")
    optimizer_params: dict = option({}, 'extra optimizer parameters (JSON), e.g. '
                                    '\'{"momentum": 0.9}\'', metavar='JSON')
    weight_decay: float = option(0.0, 'decoupled weight decay (AdamW), not on biases and '
                                 'LayerNorm', minimum=0.0)
    warmup_ratio: float = option(0.0, 'fraction of the steps with a linear lr warmup from 0 '
                                 '(then linear decay)', minimum=0.0)
    lr_schedule: str = option('auto', "'linear': decay to 0 at the last step; 'constant'; "
                              "'wsd': constant after the warmup, then linear decay to 0 over "
                              "the last --decay-ratio of the steps; "
                              "'auto': linear with a warmup, else constant",
                              choices=('auto', 'constant', 'linear', 'wsd'))
    decay_ratio: float = option(0.2, "with --lr-schedule wsd: the fraction of the steps, at "
                                "the end, over which the rate decays to 0",
                                convert=_fraction(False))
    clip_grad_norm: typing.Optional[float] = option(
        None, 'clip the gradients to this global L2 norm (gluon.utils.clip_global_norm)',
        metavar='NORM')
    bucket: int = option(0, BUCKET_HELP, minimum=0)
    pack: bool = option(True, 'the dense layers, LayerNorms and dropout of the encoder on '
                        'the real tokens only, not the padded positions (same function; '
                        'dropout masks differ from an unpacked run)')
    seed: int = option(0, 'random seed (data order, masks, dropout, initialization)')
    grad_accum: int = option(1, 'accumulate the gradients of K micro-batches of B/K per step '
                             '(same update as one batch of B, memory of B/K)', metavar='K',
                             minimum=1)
    amp: bool = option(False, 'mixed precision (mxnet.contrib.amp, float16); needs a GPU')
    ctx: str = option('cpu', 'devices: cpu, cpu:0,cpu:1, gpu:0,1', computation=False)
    kvstore: str = option('device', "how gradients are summed: 'device'/'local' over the "
                          "devices of --ctx; 'dist_sync'/'dist_device_sync' over worker "
                          "processes through MXNet's parameter server (start them with "
                          "python -m gluon_bert.launch -n WORKERS -s SERVERS -- COMMAND; "
                          "rank 0 writes the outputs)",
                          choices=('device', 'local', 'dist_sync', 'dist_device_sync'),
                          computation=False)
    output: str = option('runs/train', 'output folder', computation=False)
    overwrite: bool = option(False, 'replace the --output folder as a whole (a finished run, '
                             'checkpoints, or another job\'s results)', computation=False)
    resume: bool = option(False, 'continue from the newest good checkpoint in '
                          'OUTPUT/checkpoints', computation=False)
    checkpoint_every: int = option(0, 'also checkpoint every N optimizer steps (checkpoints '
                                   'are written at every pass end anyway, into '
                                   'OUTPUT/checkpoints)', metavar='N', computation=False,
                                   minimum=0)
    keep_checkpoints: int = option(3, 'number of checkpoints kept', metavar='K',
                                   computation=False, minimum=1)
    no_checkpoints: bool = option(False, 'write no checkpoints', computation=False)
    progress: bool = option(True, 'show a progress bar', computation=False)
    divergence_factor: float = option(
        3.0, 'warn when the mean training loss of a logged interval (pretraining: '
        '--log-interval steps; fine-tuning: an epoch) exceeds F times that of the first '
        'interval (0: never)', metavar='F', computation=False, minimum=0.0)
    stop_on_divergence: bool = option(False, 'stop the run with an error instead of only '
                                      'warning when it diverges (see --divergence-factor)',
                                      computation=False)

    def __post_init__(self):
        """The minimums and choices of the command line hold for objects made in
        Python too: a ValueError names the option."""
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            flag = '--' + f.name.replace('_', '-')
            if value is None or isinstance(value, (bool, list, dict)):
                continue
            if meta.get('minimum') is not None and value < meta['minimum']:
                raise ValueError('%s must be at least %s, got %s'
                                 % (flag, meta['minimum'], value))
            if meta.get('choices') and value not in meta['choices']:
                raise ValueError('%s must be one of %s, got %r'
                                 % (flag, ', '.join(meta['choices']), value))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclass
class PretrainArgs(TrainArgs):
    """Pretraining BERT (masked LM + next sentence prediction), the chapter's
    defaults (`d2l.train_bert(..., ctx, 20, 4000)` of d2l 0.12.0, the chapter's
    revision): the `d2l.pretrain` model, 4000 steps of 256 pairs of at most 128
    tokens, Adam at lr 1e-3, constant.  (d2l 1.0's later lr 0.01 collapses this
    model's encoder to one vector within a few steps: results/pretrain-chapter-4000.)"""
    dataset: str = option('wikitext-2', 'pretraining corpus',
                          choices=('wikitext-2', 'synthetic'))
    data_dir: typing.Optional[str] = option(
        None, 'extracted wikitext-2 folder, its zip, or a folder holding either (default: '
        'download into ~/.gluon_bert/datasets)', computation=False)
    preset: str = option('d2l.pretrain', 'model size (a BERTConfig preset)')
    dropout: typing.Optional[float] = option(
        None, "the model's dropout rate instead of the preset's (d2l.pretrain: 0.2, the "
        "chapter's), a change of its regularisation", minimum=0.0)
    positions: typing.Optional[int] = option(
        None, 'rows of the position-embedding table, at least --max-len (default: '
        "--max-len, or the preset's if larger; d2l's BERTModel has 1000, whose Xavier "
        'initial values are smaller)', minimum=8)
    embedding_init: str = option(
        'xavier', "initialization of the token, segment and position embeddings: 'xavier' "
        "(the chapter's MXNet code, as every other weight) or 'normal' (N(0, 1), as "
        "PyTorch's nn.Embedding and the chapter's PyTorch code)", choices=('xavier', 'normal'))
    lr: float = option(1e-3, "learning rate (peak learning rate with a warmup); the "
                       "chapter's Adam 1e-3 (d2l 1.0's 0.01 collapses this model's encoder)")
    num_steps: int = option(4000, 'optimizer steps', minimum=1)
    max_len: int = option(128, 'longest pair in tokens, <cls> and <sep> included', minimum=8)
    dynamic_masking: bool = option(
        False, 'draw the MLM positions and replacements and the NSP partners anew at '
        'every pass over the data (seeded by --seed and the pass), as RoBERTa; the '
        "chapter draws them once, and 4000 steps of 256 pairs are 17 passes over them")
    keep_best: bool = option(
        True, 'keep the parameters of the evaluation step with the lowest validation loss '
        '(val_mlm_loss + val_nsp_loss) as a pretraining folder OUTPUT/best, beside the last '
        'ones (fine-tune it with --pretrained OUTPUT/best)', computation=False)
    log_interval: int = option(50, 'steps per logged line of metrics.jsonl', minimum=1)
    eval_interval: int = option(200, 'every N steps, MLM/NSP loss and accuracy on a fixed '
                                'set of pairs from wiki.valid.tokens (the held-out corpus); '
                                '0: never', metavar='N', computation=False, minimum=0)
    eval_pairs: int = option(2000, 'pairs of that validation set', computation=False,
                             minimum=1)
    synthetic_paragraphs: int = option(2000, 'paragraphs of the synthetic corpus', minimum=1)
    synthetic_scenes: float = option(
        1.0, "share of the synthetic corpus's paragraphs that describe the NLI task's scenes "
        "(the others: WikiText-like articles)", metavar='SHARE', convert=_fraction(True))
    output: str = option('runs/pretrain', 'output folder', computation=False)
    recipe: str = option('chapter', "named optimizer recipe, for every option the command "
                         "line does not give: 'chapter' (the defaults: Adam lr 1e-3, "
                         "constant, 4000 steps) or 'fast' (see below and README)",
                         choices=('chapter', 'fast'), computation=False)

    # The offline demo's recipe: what learns the synthetic corpus in seconds and
    # lets fine-tuning leave the 2/3 plateau for every seed (results/demo-grid),
    # with the fast recipe's optimizer.
    DATASET_DEFAULTS: typing.ClassVar[dict] = {'synthetic': dict(
        preset='demo', max_len=64, num_steps=600, batch_size=64, **FAST_OPTIMIZER,
        output='runs/demo-pretrain')}
    # Same model, batch and data as the chapter, a third of the steps: the optimizer
    # of the search in results/pretrain-fast-search, and masks drawn anew at every
    # pass (results/pretrain-fast-dynamic; README: "A faster recipe").  A constant
    # rate after the warmup ends lower in validation MLM loss but fine-tunes worse
    # (results/pretrain-fast-constant).
    RECIPES: typing.ClassVar[dict] = {'fast': dict(
        num_steps=1300, **FAST_OPTIMIZER, dynamic_masking=True, bucket=10,
        output='runs/pretrain-fast')}

    def __post_init__(self):
        super().__post_init__()
        if self.positions is not None and self.positions < self.max_len:
            raise ValueError('--positions %d is less than --max-len %d: the position table '
                             'needs a row for every position of a pair'
                             % (self.positions, self.max_len))


@dataclass
class FinetuneArgs(TrainArgs):
    """Fine-tuning a pretrained BERT on NLI, the chapter's defaults: 5 epochs of
    512 pairs of at most 128 tokens, Adam at lr 1e-4."""
    pretrained: str = option('runs/pretrain', 'pretraining output folder, hf:PATH, '
                             'gluonnlp:NAME or minilm', flags=('--init',))
    random_init: bool = option(False, "no pretraining: the --pretrained model's architecture "
                               "and tokenizer, its weights initialized at random (Xavier, "
                               "seeded, as pretraining starts)")
    dataset: str = option('snli', 'NLI data', choices=('snli', 'synthetic'))
    data_dir: typing.Optional[str] = option(
        None, 'extracted snli_1.0 folder, its zip, or a folder holding either',
        computation=False)
    train_file: typing.Optional[str] = option(
        None, 'NLI training file (official 14-column SNLI TSV, simple TSV or JSONL)')
    test_file: typing.Optional[str] = option(None, 'NLI test file (same formats)')
    label_map: str = option('chapter', "how numeric labels of the data files are read: "
                            "'chapter': 0 entailment, 1 contradiction, 2 neutral (the "
                            "chapter's, gluon_bert's class ids); 'glue': 0 entailment, 1 "
                            "neutral, 2 contradiction, -1 no gold label (GLUE, Hugging "
                            "Face snli)", choices=('chapter', 'glue'))
    max_train_examples: typing.Optional[int] = option(
        None, 'use only the first N training pairs (N >= 1; default: all)', minimum=1)
    max_test_examples: typing.Optional[int] = option(
        None, 'use only the first N test pairs (N >= 1; default: all)', minimum=1)
    synthetic_pairs: list = option([6000, 1000], 'training and test pairs of the synthetic '
                                   'task (each at least 1)', metavar='TRAIN,TEST')
    max_len: int = option(128, 'longest pair in tokens, <cls> and <sep> included', minimum=8)
    batch_size: int = option(512, BATCH_SIZE_HELP, minimum=1)
    num_epochs: int = option(5, 'passes over the training data', minimum=1)
    lr: float = option(1e-4, 'learning rate (peak learning rate with a warmup)')
    head: str = option(
        'mlp', "classifier head: 'mlp', the chapter's Dense(256, relu) + Dense(3) on <cls>, "
        "or 'hidden', d2l 1.0's pretrained tanh 'hidden' layer + Dense(3) on <cls>; or on all "
        "the valid tokens' encodings "
        "(gluon_bert.model.heads): 'mean' pooling, 'cnn' (1-D convolutions, max-pooling), "
        "'bilstm' (BiLSTM, mean pooling), 'attention' (pooling with a learned query)",
        choices=('hidden', 'mlp', 'mean', 'cnn', 'bilstm', 'attention'))
    head_lr: typing.Optional[float] = option(None, 'learning rate of the new output layer '
                                             '(default: --lr)')
    freeze_embeddings: bool = option(False, 'do not train the token, segment and position '
                                     'embeddings')
    freeze_layers: list = option([], 'encoder blocks not to train, e.g. 0,1,2 (negative: '
                                 'from the last)', metavar='I,J')
    layer_lr_decay: float = option(1.0, 'layer-wise learning-rate decay G in (0, 1]: encoder '
                                   'block k from the top trains at lr*G^k, the embeddings at '
                                   'lr*G^num_blocks, the head at lr (or --head-lr); 1: off',
                                   metavar='G', convert=_fraction(False))
    truncation: str = option('longest-first', "pairs longer than max_len: 'longest-first' "
                             "(the chapter's: drop the last token of the longer side until "
                             "the pair fits) or 'ratio' (each side keeps a share of max_len - 3 "
                             "in proportion to its length)", choices=('longest-first', 'ratio'))
    num_workers: typing.Optional[int] = option(None, 'preprocessing processes',
                                               computation=False)
    output: str = option('runs/finetune', 'output folder', computation=False)

    # The offline demo's recipe, from the demo's pretraining folder.  Batches of
    # 16 at 5e-4: batches of 64 at 1e-3 (470 steps) often stop at 2/3 accuracy,
    # neutral learned but entailment and contradiction not told apart.
    DATASET_DEFAULTS: typing.ClassVar[dict] = {'synthetic': dict(
        pretrained='runs/demo-pretrain', max_len=64, batch_size=16, lr=5e-4,
        output='runs/demo-finetune')}


@dataclass
class TaskArgs(FinetuneArgs):
    """Fine-tuning a pretrained BERT on any labelled sentence or sentence-pair
    file (TSV with a header, or JSON lines): the text column(s) and the label
    column by name, the classes read from the training file (sorted) or given by
    --labels; accuracy, macro-F1 and MCC on the test file."""
    not_options: typing.ClassVar[tuple] = ('dataset', 'data_dir', 'synthetic_pairs',
                                           'label_map')
    train_file: typing.Optional[str] = option(
        None, 'training file: TSV with a header row naming its columns, or JSON lines')
    test_file: typing.Optional[str] = option(None, 'test file (same format and columns)')
    text_columns: list = option(['sentence1', 'sentence2'], 'one text column (single '
                                'sentences) or two (sentence pairs), by name',
                                metavar='A[,B]', convert=_parse_text_columns)
    label_column: str = option('label', 'the label column, by name')
    labels: typing.Optional[list] = option(
        None, 'the classes in class-id order, e.g. neg,pos (default: the labels of the '
        'training file, sorted; numerically if they are all integers)', metavar='A,B,...',
        convert=_parse_labels)
    output: str = option('runs/task', 'output folder', computation=False)

    DATASET_DEFAULTS: typing.ClassVar[dict] = {}     # the files are the user's


# ---------------------------------------------------------------------------
# args.json and resuming


def computation_fields(args):
    """The fields of `args` whose values change what a run computes."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(args)
            if f.metadata.get('computation', True)}


def _jsonable(value):
    return json.loads(json.dumps(value))


def resume_mismatch(saved, args):
    """[(name, saved value, new value)] of the computation fields that differ
    between a run's saved options (a dict) and `args`."""
    out = []
    for name, value in computation_fields(args).items():
        if name in saved and _jsonable(saved[name]) != _jsonable(value):
            out.append((name, saved[name], value))
    return out


def save_args(path, args, kind):
    """Write `args` whole into `path` (JSON), with the job's `kind`."""
    write_json_atomic(path, dict(kind=kind, args=args.to_dict()))


def load_args(path):
    """(kind, options dict) saved by `save_args`."""
    with open(path) as f:
        d = json.load(f)
    return d.get('kind'), d.get('args', {})


# The command lines, generated from the dataclasses above (gluon_bert.train.cmdline).
from gluon_bert.train.cmdline import (build_parser, dataset_defaults, parse_args,  # noqa: E402
                                      recipe_defaults)
