"""Command lines from the run-option dataclasses of `gluon_bert.train.options`:
one `--option` per field (`build_parser`), and `parse_args`, which applies a
job's per-dataset defaults (`DATASET_DEFAULTS`) and named recipes (`RECIPES`,
`--recipe`) to the options the command line does not give."""
import argparse
import dataclasses
import json
import typing

__all__ = ['build_parser', 'parse_args', 'dataset_defaults', 'recipe_defaults']


def _type_of(f):
    t = f.type
    if typing.get_origin(t) is typing.Union:           # Optional[X]
        t = [a for a in typing.get_args(t) if a is not type(None)][0]
    return t


def _parse_int_list(text):
    try:
        return [int(i) for i in text.split(',') if i.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError('expected comma-separated integers, got %r' % text)


def _parse_json_dict(text):
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError('invalid JSON %r: %s' % (text, e))
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object, got %r' % text)
    return value


def _checked(convert, name, minimum):
    def parse(text):
        value = convert(text)
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError('must be at least %s, got %s' % (minimum, text))
        return value
    parse.__name__ = name
    return parse


def build_parser(args_class, description=None, prog=None):
    """An argparse parser with one option per field of the dataclass `args_class`:
    `--field-name` (and the field's aliases), its default, help, choices and
    minimum.  A boolean field that defaults to True gets `--no-field-name`."""
    epilog = '\n'.join('--%s %s changes the defaults: %s' % (option_name, name, ', '.join(
        _flag(k, v) for k, v in recipe.items()))
        for option_name, table in (('dataset', 'DATASET_DEFAULTS'), ('recipe', 'RECIPES'))
        for name, recipe in getattr(args_class, table, {}).items())
    parser = argparse.ArgumentParser(
        prog=prog, description=description or args_class.__doc__, epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    own = getattr(args_class, '__annotations__', {})
    groups = {True: parser.add_argument_group('%s options' % args_class.__name__.replace(
        'Args', '').lower()), False: parser.add_argument_group('training options')}
    for f in sorted(dataclasses.fields(args_class), key=lambda f: f.name not in own):
        if f.name in getattr(args_class, 'not_options', ()):
            continue
        meta, group = f.metadata, groups[f.name in own]
        flag = '--' + f.name.replace('_', '-')
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kind = _type_of(f)
        if kind is bool:
            if default:
                group.add_argument('--no-' + f.name.replace('_', '-'), dest=f.name,
                                   action='store_false', help='do not ' + meta['help'])
            else:
                group.add_argument(flag, *meta['flags'], dest=f.name, action='store_true',
                                   help=meta['help'])
            continue
        convert = meta.get('convert') or {list: _parse_int_list,
                                          dict: _parse_json_dict}.get(kind, kind)
        if meta['minimum'] is not None:
            convert = _checked(convert, kind.__name__, meta['minimum'])
        shown = ','.join(map(str, default)) if isinstance(default, list) else default
        help_text = meta['help'] + ('' if default in (None, [], {}) else ' (default: %s)'
                                    % (shown,))
        group.add_argument(flag, *meta['flags'], dest=f.name, type=convert, default=default,
                           choices=meta['choices'], metavar=meta['metavar'], help=help_text)
    return parser


def _flag(name, value):
    """The command-line words that set the field `name` to `value`."""
    flag = '--' + name.replace('_', '-')
    return flag if value is True else '%s %s' % (flag, _shown(value))


def _shown(value):
    return json.dumps(value, separators=(',', ':')) if isinstance(value, dict) else value


def dataset_defaults(args_class, dataset):
    """{field: value} that `args_class` uses instead of its defaults for `dataset`."""
    return dict(getattr(args_class, 'DATASET_DEFAULTS', {}).get(dataset, {}))


def recipe_defaults(args_class, recipe):
    """{field: value} that `args_class` uses instead of its defaults for the
    named recipe `recipe` (`--recipe`)."""
    return dict(getattr(args_class, 'RECIPES', {}).get(recipe, {}))


def parse_args(args_class, argv=None, description=None, prog=None):
    """Parse a command line into an `args_class` instance.  The options it does
    not give take the defaults of the chosen `--recipe` (`recipe_defaults`), then
    of the chosen `--dataset` (`dataset_defaults`), else the fields' defaults."""
    parser = build_parser(args_class, description, prog)
    ns = parser.parse_args(argv)
    recipe = dataset_defaults(args_class, getattr(ns, 'dataset', None))
    recipe.update(recipe_defaults(args_class, getattr(ns, 'recipe', None)))
    if recipe:
        parser.set_defaults(**recipe)       # argparse: only for options not given
        ns = parser.parse_args(argv)
    return args_class(**vars(ns))
