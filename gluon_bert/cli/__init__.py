"""The `gluon-bert` command: one subcommand per job.

    gluon-bert pretrain ARGS     pretrain BERT on WikiText-2 (masked LM + NSP)
    gluon-bert finetune ARGS     fine-tune a pretrained BERT on SNLI
    gluon-bert finetune-task ARGS  fine-tune it on any labelled sentence(-pair) file
    gluon-bert evaluate ARGS     evaluate a fine-tuned classifier on an NLI file
    gluon-bert predict ARGS      predict the relation of a premise and a hypothesis
    gluon-bert convert ARGS      convert a pretrained BERT into a gluon_bert folder
    gluon-bert compare ARGS      the same fine-tuning in MXNet/Gluon and PyTorch
    gluon-bert export ARGS       export a fine-tuned classifier for serving (MXNet, ONNX)
    gluon-bert plot RUNS         plot the curves of several runs side by side

`gluon-bert COMMAND --help` lists a command's options.  Each command is a
function `NAME_main(argv)` of this package (`pretrain_main`, `finetune_main`,
...); scripts/*.py call the same functions.  A command's module is imported only
when it runs: only `compare` needs PyTorch, only `export --format onnx` onnx.
"""
import argparse
import importlib
import os
import shlex
import sys

# command: (module of gluon_bert.cli, its main function, summary)
COMMANDS = {
    'pretrain': ('pretrain', 'pretrain_main', 'pretrain BERT on WikiText-2 (masked LM + NSP)'),
    'finetune': ('finetune', 'finetune_main', 'fine-tune a pretrained BERT on SNLI'),
    'finetune-task': ('task', 'task_main', 'fine-tune it on any labelled sentence(-pair) file'),
    'evaluate': ('evaluate', 'evaluate_main', 'evaluate a fine-tuned classifier on an NLI file'),
    'predict': ('predict', 'predict_main',
                'predict the relation of a premise and a hypothesis, or of a file of pairs'),
    'convert': ('convert', 'convert_main', 'convert a pretrained BERT into a gluon_bert folder'),
    'compare': ('compare', 'compare_main', 'the same fine-tuning in MXNet/Gluon and PyTorch'),
    'export': ('export', 'export_main', 'export a fine-tuned classifier for serving'),
    'plot': ('plot', 'plot_main', 'plot the curves of several runs side by side'),
}
_MAINS = {function: module for module, function, _ in COMMANDS.values()}

__all__ = ['main', 'run', 'COMMANDS', 'at_least', 'max_len_type'] + sorted(_MAINS)


def at_least(minimum, why=''):
    """An argparse type: an integer of at least `minimum` (`why`: the reason,
    shown in the error)."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError('must be at least %d%s, got %s'
                                             % (minimum, ' (%s)' % why if why else '', text))
        return value
    parse.__name__ = 'int'
    return parse


def max_len_type():
    """The argparse type of `--max-len`: at least the shortest max_len a sentence
    pair fits in (`text.vocab.MIN_PAIR_LEN`)."""
    from gluon_bert.text.vocab import MIN_PAIR_LEN
    return at_least(MIN_PAIR_LEN, '<cls>, a token of each sentence and two <sep>')


def __getattr__(name):
    """`gluon_bert.cli.pretrain_main` and the like, imported on first use."""
    if name in _MAINS:
        module = importlib.import_module('%s.%s' % (__name__, _MAINS[name]))
        return getattr(module, name)
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


def usage():
    width = max(len(name) for name in COMMANDS)
    lines = ['usage: gluon-bert COMMAND [ARGS...]', '', 'commands:']
    lines += ['  %-*s  %s' % (width, name, summary) for name, (_, _, summary) in COMMANDS.items()]
    lines += ['', "'gluon-bert COMMAND --help' lists the options of a command."]
    return '\n'.join(lines)


def main(argv=None):
    """Run `gluon-bert COMMAND ARGS...`: call COMMAND's main function with ARGS
    (see `run`).  Returns the exit status, so that a console script can
    sys.exit() it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == '--version':
        from gluon_bert import __version__
        print('gluon-bert %s' % __version__)
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print('%s\n\ngluon-bert: unknown command %r' % (usage(), name), file=sys.stderr)
        return 2
    program = sys.argv[0]
    sys.argv[0] = 'gluon-bert ' + name          # argparse's `prog`, for usage and errors
    try:
        return run(name, argv[1:])
    finally:
        sys.argv[0] = program


# What a user can cause and fix (a missing or broken file, a finished run in the
# output folder, an option that does not fit the data, a diverged run): one line.
# Anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (OSError, ValueError, FloatingPointError, RuntimeError, ImportError)
DEBUG_FLAG, DEBUG_ENV = '--debug', 'GLUON_BERT_DEBUG'


def resume_command(name, argv):
    """The command line that resumes the run of `gluon-bert name argv` (or of
    the script that called `run`): the same options with --resume instead of
    --overwrite."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else ''
    if program.startswith('gluon-bert '):
        head = shlex.split(program)
    elif program.endswith('.py'):
        head = ['python', program]
    else:
        head = ['gluon-bert', name]
    args = [a for a in argv if a != '--overwrite']
    return shlex.join(head + args + ([] if '--resume' in args else ['--resume']))


def run(name, argv=None):
    """Run the command `name` with `argv` (default: sys.argv[1:]) as a program
    does: an expected failure prints one line `error: ...` to stderr and returns
    1 (with `--debug`, or GLUON_BERT_DEBUG=1, it raises with its traceback).
    SIGINT (Ctrl-C) and SIGTERM stop a training run after its current step with
    a checkpoint and the command that resumes it, and return 130 and 143
    (128 + the signal's number).  Returns 0 on success."""
    from gluon_bert.train.signals import Interrupted, raise_on_signals
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')
    argv = [a for a in argv if a != DEBUG_FLAG]
    command = __getattr__(COMMANDS[name][1])
    try:
        with raise_on_signals():
            command(argv)
    except Interrupted as e:
        if debug:
            raise
        print('error: %s' % e, file=sys.stderr)
        if e.checkpoint:
            print('resume with: %s' % resume_command(name, argv), file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        if debug:
            raise
        print('error: interrupted', file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as e:
        if debug:
            raise
        message = ' '.join(str(e).split()) or type(e).__name__
        print('error: %s (%s shows the traceback)' % (message, DEBUG_FLAG), file=sys.stderr)
        return 1
    return 0
