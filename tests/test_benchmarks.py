"""The benchmark's summary arithmetic: matrix-product rates as a share of the
FullyConnected rate of the same run and thread count (`*_roofline_pct`), the
rounds of `--repeat`, the variants of `--variant`; the swap of `chapter_eval`."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import report, run  # noqa: E402


def _sgemm(*rates):
    names = ['FullyConnected a', 'FullyConnected b', 'FullyConnected c', 'batch_dot d']
    return {'gflops': dict(zip(names, rates))}


def test_fully_connected_rate_is_the_median_of_its_rows():
    assert report.fully_connected_gflops(_sgemm(90.0, 110.0, 100.0, 40.0)) == 100.0
    assert report.fully_connected_gflops(None) is None
    assert report.fully_connected_gflops({'gflops': {'batch_dot x': 50.0}}) is None


def test_roofline_pct_uses_the_rate_of_the_jobs_thread_count():
    R = {'sgemm_mxnet': _sgemm(100.0, 100.0, 100.0, 40.0),
         'sgemm_mxnet_t2': _sgemm(180.0, 200.0, 220.0, 70.0),
         'ft_gluon_bucket0': {'matmul_gflops_achieved': 64.0},
         'ft_gluon_bucket0_t2': {'matmul_gflops_achieved': 95.0},
         'pt_d2l_mxnet': {'matmul_gflops_achieved': 50.0},
         'ft_torch_dynamic_t1': {'matmul_gflops_achieved': 70.0},
         # one thread on each of two CPU contexts: two cores' rate
         'ft_gluon_bucket0_dp2': {'matmul_gflops_achieved': 80.0}}
    out = report.roofline_pct(R)
    assert out == {'ft_gluon_bucket0_roofline_pct': 64.0,
                   'ft_gluon_bucket0_t2_roofline_pct': 47.5,
                   'pt_d2l_mxnet_roofline_pct': 50.0,
                   'ft_gluon_bucket0_dp2_roofline_pct': 40.0}
    # without the 2-thread sgemm job, no 2-thread share
    del R['sgemm_mxnet_t2']
    assert 'ft_gluon_bucket0_t2_roofline_pct' not in report.roofline_pct(R)


def test_thread_scaling_pairs_each_job_with_its_two_thread_twin():
    R = {'ft_gluon_bucket0': {'examples_per_sec': 400.0},
         'ft_gluon_bucket0_t2': {'examples_per_sec': 600.0},
         'ft_torch_dynamic_t1': {'examples_per_sec': 200.0},
         'ft_torch_dynamic_t2': {'examples_per_sec': 350.0},
         'pt_gluon_bucket0': {'pairs_per_sec': 100.0},
         'pt_gluon_bucket0_t2': {'pairs_per_sec': 150.0},
         'ft_gluon_bucket10': {'examples_per_sec': 500.0}}     # no 2-thread twin ran
    assert report.thread_scaling(R) == {'ft_gluon_bucket0': 1.5, 'ft_torch_dynamic_t1': 1.75,
                                        'pt_gluon_bucket0': 1.5}


def test_the_report_prints_the_scaling_and_the_machines_rates():
    R = {'prep': {'finetune_pairs': 8, 'finetune_mean_valid_len': 20.0,
                  'finetune_max_valid_len': 30, 'pretrain_examples': 8,
                  'pretrain_mean_valid_len': 40.0, 'pretrain_mean_mlm_preds': 6.0,
                  'snli_source_pairs': 8, 'vocab_size': 50}}
    for name, rate in (('ft_gluon_bucket0', 400.0), ('ft_gluon_bucket0_t2', 600.0)):
        R[name] = dict(examples_per_sec=rate, seconds=1.0, cpu_seconds=1.0,
                       matmul_gflops_achieved=50.0, peak_rss_mib=100.0)
    rep = run.summarize(R, dict(batch_size=8), 'quick', {'snli': 'x', 'wikitext': 'y'},
                        __import__('datetime').datetime(2026, 12, 6), None, None, None, 1.0)
    rep['fully_connected_gflops'] = {'1': 105.0, '2': 190.0}
    rep['openblas_core'] = ['Haswell']
    text = report.format_report(rep)
    assert rep['scaling_2threads'] == {'ft_gluon_bucket0': 1.5}
    assert '105.0 GFLOPS on 1 thread, 190.0 on 2' in text and 'Haswell' in text
    assert any(line.split() == ['ft_gluon_bucket0', '1.50x'] for line in text.splitlines())


def test_repeated_rounds_keep_each_jobs_median_round_and_each_rounds_ratio():
    rounds = [{'ft_gluon_bucket0': {'examples_per_sec': r, 'round': k},
               'ft_torch_dynamic_t1': {'examples_per_sec': t},
               'sgemm_mxnet': _sgemm(100.0 + k, 100.0, 100.0, 40.0)}
              for k, (r, t) in enumerate([(300.0, 200.0), (200.0, 100.0), (400.0, 250.0)])]
    R = report.median_round(rounds)
    assert R['ft_gluon_bucket0']['round'] == 0                 # 300: the median of 200 300 400
    assert R['ft_gluon_bucket0']['round_rates'] == [300.0, 200.0, 400.0]
    assert R['ft_torch_dynamic_t1']['examples_per_sec'] == 200.0
    assert R['sgemm_mxnet'] is rounds[0]['sgemm_mxnet']        # no rate: the first round
    # even counts: the lower middle
    assert report.median_round(rounds[:2])['ft_gluon_bucket0']['examples_per_sec'] == 200.0
    # each round's ratio, paired within the round
    per_round = report.ratio_rounds(rounds)
    assert per_round == {'finetune_bucket0_speedup_vs_pytorch_dynamic': [1.5, 2.0, 1.6]}
    assert report.ratio_rounds(rounds[:1]) == {}               # one round: nothing to pair


def test_a_variant_runs_right_after_its_job_with_its_variables():
    assert run.parse_variant('passive:OMP_WAIT_POLICY=PASSIVE,GOMP_SPINCOUNT=0') == (
        'passive', {'OMP_WAIT_POLICY': 'PASSIVE', 'GOMP_SPINCOUNT': '0'})
    for bad in ('OMP_WAIT_POLICY=PASSIVE', 'p:OMP_WAIT_POLICY', 'a b:X=1', ':X=1'):
        with pytest.raises(ValueError, match='--variant'):
            run.parse_variant(bad)
    jobs = [('ft_gluon_bucket0_t2', 'ft_gluon', 2, dict(bucket=0)),
            ('prof_gluon', 'prof_gluon', 1, dict(env={'MXNET_EXEC_BULK_EXEC_TRAIN': '0'}))]
    out = run.with_variants(jobs, [('ob1', {'OPENBLAS_NUM_THREADS': '1'})])
    assert [name for name, _, _, _ in out] == ['ft_gluon_bucket0_t2', 'ft_gluon_bucket0_t2@ob1',
                                               'prof_gluon', 'prof_gluon@ob1']
    assert out[1][1:] == ('ft_gluon', 2, dict(bucket=0, env={'OPENBLAS_NUM_THREADS': '1'}))
    assert out[3][3]['env'] == {'MXNET_EXEC_BULK_EXEC_TRAIN': '0', 'OPENBLAS_NUM_THREADS': '1'}
    assert jobs[1][3]['env'] == {'MXNET_EXEC_BULK_EXEC_TRAIN': '0'}    # the job is not changed
    assert run.with_variants(jobs, []) == jobs
    # bad variants stop the run before any job, naming the option
    with pytest.raises(SystemExit):
        run.main(['--json', 'x.json', '--variant', 'no-colon'])
    with pytest.raises(SystemExit):
        run.main(['--json', 'x.json', '--variant', 'a:X=1', '--variant', 'a:Y=2'])


def test_each_variant_is_compared_with_its_job_in_the_same_round():
    rates = [(400.0, 300.0, 500.0), (200.0, 250.0, 100.0), (300.0, 330.0, None)]
    rounds = [{'ft_gluon_bucket0': {'examples_per_sec': a},
               'ft_gluon_bucket0@p': {'examples_per_sec': b},
               'ft_gluon_bucket10': {'examples_per_sec': 1.0},
               'ft_gluon_bucket10@p': {'examples_per_sec': c}} for a, b, c in rates]
    out = report.variant_rounds(rounds)
    # bucket10@p lacks a rate in one round: not compared
    assert out == {'ft_gluon_bucket0@p': {'ratios': [0.75, 1.25, 1.1], 'median': 1.1}}
    assert report.variant_rounds(rounds[:2])['ft_gluon_bucket0@p']['median'] == 1.0
    R = {'prep': {'finetune_pairs': 8, 'finetune_mean_valid_len': 20.0,
                  'finetune_max_valid_len': 30, 'pretrain_examples': 8,
                  'pretrain_mean_valid_len': 40.0, 'pretrain_mean_mlm_preds': 6.0,
                  'snli_source_pairs': 8, 'vocab_size': 50}}
    rep = run.summarize(R, dict(batch_size=8), 'quick', {'snli': 'x', 'wikitext': 'y'},
                        __import__('datetime').datetime(2026, 12, 6), None, None, None, 1.0)
    rep['variant_rounds'] = out
    line = [l for l in report.format_report(rep).splitlines() if '@p' in l]
    assert line[0].split() == ['ft_gluon_bucket0@p', '0.75x', '1.25x', '1.10x;', '1.10x']


def test_swapping_the_ten_percent_replacement_between_the_two_recipes():
    from benchmarks.chapter_eval import swap_replacements
    unk, mask, cls, sep = 0, 2, 3, 4
    # targets at 1 (kept), 2 (masked), 3 (a random word), 4 (no weight: padding)
    tokens = np.array([[cls, 10, mask, 15, 0, 12, sep]])
    positions, weights = np.array([[1, 2, 3, 4]]), np.array([[1.0, 1.0, 1.0, 0.0]])
    labels = np.array([[10, 20, 30, 40]])
    new, swapped, targets = swap_replacements(tokens, positions, weights, labels, unk, mask,
                                              50, to_unk=True)
    assert (swapped, targets) == (1, 3)
    assert new.tolist() == [[cls, 10, mask, unk, 0, 12, sep]]
    assert tokens[0, 3] == 15                                   # the input is not changed
    # d2l 0.12.0's <unk> for a target that is not <unk> becomes a word; a real <unk> stays
    tokens = np.array([[cls, unk, unk, 11, sep]])
    positions, weights = np.array([[1, 2, 3]]), np.ones((1, 3))
    labels = np.array([[unk, 25, 11]])
    new, swapped, targets = swap_replacements(tokens, positions, weights, labels, unk, mask,
                                              50, to_unk=False)
    assert (swapped, targets) == (1, 3)
    assert new[0, 1] == unk and new[0, 3] == 11 and 5 <= new[0, 2] < 50
