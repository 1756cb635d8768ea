"""Run options: the command lines come from the dataclasses, one object reaches
the loop, and the output folder keeps it whole."""
import dataclasses
import json
import os

import pytest

from gluon_bert.train.options import (FinetuneArgs, PretrainArgs, build_parser,
                                      computation_fields, load_args, parse_args,
                                      resume_mismatch, save_args)


@pytest.mark.parametrize('cls', [PretrainArgs, FinetuneArgs])
def test_every_field_is_an_option_with_its_default(cls):
    parsed = parse_args(cls, [])
    assert parsed == cls()
    help_text = build_parser(cls).format_help()
    for f in dataclasses.fields(cls):
        flag = '--' + f.name.replace('_', '-')
        if f.type is bool and f.default is True:
            flag = '--no-' + f.name.replace('_', '-')
        assert flag in help_text, flag
        assert f.metadata['help'], f.name


def test_values_aliases_and_types():
    a = parse_args(FinetuneArgs, ['--init', 'minilm', '--lr', '5e-5', '--freeze-layers', '0,-1',
                                  '--no-progress', '--optimizer-params', '{"beta1": 0.8}',
                                  '--synthetic-pairs', '96,32', '--clip-grad-norm', '1'])
    assert (a.pretrained, a.lr, a.freeze_layers, a.progress) == ('minilm', 5e-5, [0, -1], False)
    assert a.optimizer_params == {'beta1': 0.8} and a.synthetic_pairs == [96, 32]
    assert a.clip_grad_norm == 1.0
    p = parse_args(PretrainArgs, ['--num-steps', '10', '--bucket', '4', '--amp'])
    assert (p.num_steps, p.bucket, p.amp, p.lr, p.batch_size) == (10, 4, True, 1e-3, 256)
    assert parse_args(FinetuneArgs, []).head == 'mlp'


@pytest.mark.parametrize('argv, what', [
    (['--batch-size', '0'], '--batch-size: must be at least 1'),
    (['--num-steps', '-3'], '--num-steps: must be at least 1'),
    (['--lr-schedule', 'cosine'], "--lr-schedule: invalid choice: 'cosine'"),
    (['--optimizer-params', '[1]'], '--optimizer-params: expected a JSON object'),
])
def test_invalid_values_name_the_option(argv, what, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(PretrainArgs, argv)
    assert info.value.code == 2
    assert what in capsys.readouterr().err


def test_args_json_round_trip_and_mismatch(tmp_path):
    args = FinetuneArgs(lr=1e-3, batch_size=24, output=str(tmp_path), resume=True)
    path = str(tmp_path / 'args.json')
    save_args(path, args, 'finetune')
    kind, saved = load_args(path)
    assert kind == 'finetune' and saved == json.loads(json.dumps(args.to_dict()))
    assert FinetuneArgs(**saved) == args
    # Options that do not change the computation are not compared.
    assert 'output' not in computation_fields(args) and 'ctx' not in computation_fields(args)
    assert resume_mismatch(saved, args.replace(ctx='cpu:0,cpu:1', output='elsewhere',
                                               keep_checkpoints=9)) == []
    diff = resume_mismatch(saved, args.replace(lr=1e-2, freeze_layers=[0]))
    assert diff == [('lr', 1e-3, 1e-2), ('freeze_layers', [], [0])]


def test_the_run_folder_holds_its_options(tmp_path):
    from gluon_bert.train.jobs import run_pretraining
    out = str(tmp_path / 'pre')
    args = PretrainArgs(dataset='synthetic', synthetic_paragraphs=30, num_steps=2,
                        batch_size=8, max_len=32, log_interval=1, progress=False, output=out)
    run_pretraining(args, model_overrides=dict(num_hiddens=16, ffn_num_hiddens=16,
                                               num_heads=2, num_blks=1))
    kind, saved = load_args(os.path.join(out, 'args.json'))
    assert kind == 'pretrain' and PretrainArgs(**saved) == args


def test_dropout_and_embedding_init_options(tmp_path):
    """--dropout replaces the preset's; --embedding-init normal draws the three
    embeddings from N(0, 1) and leaves the other weights Xavier's."""
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.train.jobs import run_pretraining
    assert parse_args(PretrainArgs, []).dropout is None
    assert parse_args(PretrainArgs, []).embedding_init == 'xavier'
    args = parse_args(PretrainArgs, ['--dataset', 'synthetic', '--dropout', '0.05',
                                     '--embedding-init', 'normal',
                                     '--synthetic-paragraphs', '30', '--num-steps', '1',
                                     '--batch-size', '8', '--no-progress',
                                     '--output', str(tmp_path / 'pre')])
    run_pretraining(args, model_overrides=dict(num_hiddens=16, ffn_num_hiddens=16,
                                               num_heads=2, num_blks=1, dropout=0.3))
    config = BERTConfig.load(os.path.join(args.output, 'config.json'))
    assert config.dropout == 0.05 and config.num_hiddens == 16
    params = mx.nd.load(os.path.join(args.output, 'model.params'))
    stds = {k: float(v.asnumpy().std()) for k, v in params.items()}
    embeddings = [k for k in stds if 'embedding' in k]
    assert len(embeddings) == 3
    for k in embeddings:
        assert 0.8 < stds[k] < 1.2, (k, stds[k])
    assert stds['encoder.blks.0.ffn.dense1.weight'] < 0.5
    with pytest.raises(SystemExit):
        parse_args(PretrainArgs, ['--dropout', '-0.1'])


def test_positions_sets_the_rows_of_the_position_table(tmp_path):
    """--positions: a longer position table than --max-len (d2l's 1000 rows),
    Xavier-initialised over its size; fewer rows than --max-len is an error."""
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.train.jobs import run_pretraining
    tiny = dict(num_hiddens=16, ffn_num_hiddens=16, num_heads=2, num_blks=1)

    def run(name, *flags):
        args = parse_args(PretrainArgs, ['--dataset', 'synthetic', '--synthetic-paragraphs',
                                         '30', '--num-steps', '1', '--batch-size', '8',
                                         '--max-len', '32', '--no-progress', '--output',
                                         str(tmp_path / name), *flags])
        run_pretraining(args, model_overrides=tiny)
        table = mx.nd.load(os.path.join(args.output, 'model.params'))['encoder.pos_embedding']
        return BERTConfig.load(os.path.join(args.output, 'config.json')), table.asnumpy()

    config, table = run('long', '--positions', '1000')
    assert config.max_len == 1000 and table.shape == (1, 1000, 16)
    default_config, default_table = run('default')
    # the default: the preset's table (the synthetic recipe's 'demo': 64 rows)
    assert default_config.max_len == 64 and default_table.shape == (1, 64, 16)
    # Xavier over (1, P, H): scale sqrt(6 / (P H + H)), 3.9x smaller for 1000 rows
    assert abs(table).max() < 0.03 and abs(default_table).max() > 0.05
    with pytest.raises(ValueError, match='--positions 16 is less than --max-len 32'):
        PretrainArgs(positions=16, max_len=32)
    with pytest.raises(ValueError, match='--positions'):    # before the output is claimed
        run('short', '--positions', '16')
    assert not (tmp_path / 'short').exists()


def test_the_synthetic_data_bring_their_recipe_and_flags_win(tmp_path):
    """--dataset synthetic selects the demo's defaults (the chapter's real-data
    ones do not learn it) for every option the command line does not give; an
    explicit flag wins, even one equal to the chapter's default; args.json
    records what was used."""
    from gluon_bert.train.options import dataset_defaults
    p = parse_args(PretrainArgs, ['--dataset', 'synthetic'])
    assert dataset_defaults(PretrainArgs, 'synthetic')
    for name, value in dataset_defaults(PretrainArgs, 'synthetic').items():
        assert getattr(p, name) == value, name
    assert (p.preset, p.max_len) == ('demo', 64) and p.num_steps != PretrainArgs().num_steps
    p = parse_args(PretrainArgs, ['--dataset', 'synthetic', '--lr', '0.01', '--num-steps', '7',
                                  '--preset', 'd2l.pretrain'])
    assert (p.lr, p.num_steps, p.preset) == (0.01, 7, 'd2l.pretrain')
    assert p.batch_size == dataset_defaults(PretrainArgs, 'synthetic')['batch_size']
    f = parse_args(FinetuneArgs, ['--dataset=synthetic', '--max-len', '128'])
    recipe = dataset_defaults(FinetuneArgs, 'synthetic')
    assert f.max_len == 128 and f.lr == recipe['lr'] and f.pretrained == recipe['pretrained']
    assert parse_args(FinetuneArgs, ['--dataset', 'snli']) == FinetuneArgs()
    assert '--dataset synthetic changes the defaults' in build_parser(PretrainArgs).format_help()
    path = str(tmp_path / 'args.json')
    save_args(path, f, 'finetune')
    assert load_args(path)[1]['lr'] == recipe['lr'] and load_args(path)[1]['max_len'] == 128


def test_a_named_recipe_sets_the_options_not_given_and_flags_win():
    """--recipe fast sets each of its options that the command line does not give
    (an explicit flag wins); the default recipe is the chapter's, the fields'
    defaults; the help lists the recipe's values."""
    from gluon_bert.train.options import recipe_defaults
    fast = recipe_defaults(PretrainArgs, 'fast')
    assert fast and recipe_defaults(PretrainArgs, 'chapter') == {}
    p = parse_args(PretrainArgs, ['--recipe', 'fast'])
    for name, value in fast.items():
        assert getattr(p, name) == value, name
        assert getattr(PretrainArgs(), name) != value, name     # it changes something
    assert (p.preset, p.batch_size, p.max_len) == ('d2l.pretrain', 256, 128)  # same model, batch
    p = parse_args(PretrainArgs, ['--recipe', 'fast', '--lr', '0.01', '--bucket', '0'])
    assert (p.lr, p.bucket, p.num_steps) == (0.01, 0, fast['num_steps'])
    assert parse_args(PretrainArgs, []) == PretrainArgs()
    assert parse_args(PretrainArgs, ['--recipe', 'chapter']) == PretrainArgs()
    synthetic_fast = parse_args(PretrainArgs, ['--dataset', 'synthetic', '--recipe', 'fast'])
    assert synthetic_fast.lr == fast['lr'] and synthetic_fast.preset == 'demo'
    assert '--recipe fast changes the defaults: --num-steps %d' % fast['num_steps'] in \
        build_parser(PretrainArgs).format_help()
    with pytest.raises(SystemExit):
        parse_args(PretrainArgs, ['--recipe', 'slow'])
