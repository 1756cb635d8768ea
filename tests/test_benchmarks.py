"""The benchmark's summary arithmetic: matrix-product rates as a share of the
FullyConnected rate of the same run and thread count (`*_roofline_pct`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import run  # noqa: E402


def _sgemm(*rates):
    names = ['FullyConnected a', 'FullyConnected b', 'FullyConnected c', 'batch_dot d']
    return {'gflops': dict(zip(names, rates))}


def test_fully_connected_rate_is_the_median_of_its_rows():
    assert run.fully_connected_gflops(_sgemm(90.0, 110.0, 100.0, 40.0)) == 100.0
    assert run.fully_connected_gflops(None) is None
    assert run.fully_connected_gflops({'gflops': {'batch_dot x': 50.0}}) is None


def test_roofline_pct_uses_the_rate_of_the_jobs_thread_count():
    R = {'sgemm_mxnet': _sgemm(100.0, 100.0, 100.0, 40.0),
         'sgemm_mxnet_t2': _sgemm(180.0, 200.0, 220.0, 70.0),
         'ft_gluon_bucket0': {'matmul_gflops_achieved': 64.0},
         'ft_gluon_bucket0_t2': {'matmul_gflops_achieved': 95.0},
         'pt_d2l_mxnet': {'matmul_gflops_achieved': 50.0},
         'ft_torch_dynamic_t1': {'matmul_gflops_achieved': 70.0}}
    out = run.roofline_pct(R)
    assert out == {'ft_gluon_bucket0_roofline_pct': 64.0,
                   'ft_gluon_bucket0_t2_roofline_pct': 47.5,
                   'pt_d2l_mxnet_roofline_pct': 50.0}
    # without the 2-thread sgemm job, no 2-thread share
    del R['sgemm_mxnet_t2']
    assert 'ft_gluon_bucket0_t2_roofline_pct' not in run.roofline_pct(R)
