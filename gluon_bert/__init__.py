"""gluon_bert: the "Natural Language Inference: Fine-Tuning BERT" chapter in
MXNet/Gluon — pretrain a small BERT on WikiText-2, fine-tune it on SNLI.

Importing gluon_bert before MXNet sets `OMP_NUM_THREADS` to the number of usable
CPUs (`gluon_bert.system.usable_cpus`) when it is not set: left to itself, MXNet
1.9.1's CPU wheel may use fewer (one of two on the 2-vCPU machine of
BENCHMARKS.md).  Set `OMP_NUM_THREADS` to choose.

It also sets `OPENBLAS_CORETYPE` to 'Haswell' when it is not set and the CPU has
AVX2 and FMA (`gluon_bert.system.openblas_coretype`): the wheel's OpenBLAS, which
computes the attention products, otherwise falls back to SSE3 kernels on CPUs it
does not recognise, which run `batch_dot` at about half the rate (BENCHMARKS.md).
`gluon_bert.system.openblas_core()` tells which kernels run.

Imported after MXNet, it can set neither (MXNet has chosen its threads and
OpenBLAS its kernels), and says so in a warning when either would have differed.
"""
import os
import sys
import warnings

from gluon_bert.system import cpu_flags, openblas_core, openblas_coretype, usable_cpus

# Whether the values in os.environ are these defaults rather than the user's choice.
_omp_threads_defaulted = 'mxnet' not in sys.modules and not os.environ.get('OMP_NUM_THREADS')
if _omp_threads_defaulted:
    os.environ['OMP_NUM_THREADS'] = str(usable_cpus())
_openblas_coretype = (None if 'mxnet' in sys.modules or os.environ.get('OPENBLAS_CORETYPE')
                      else openblas_coretype(cpu_flags()))
if _openblas_coretype:
    os.environ['OPENBLAS_CORETYPE'] = _openblas_coretype


# OpenBLAS core names whose kernels use AVX2 (its 'Zen' runs the Haswell kernels).
AVX2_CORES = ('Haswell', 'Zen', 'SkylakeX', 'Cooperlake')


def _defaults_missed():
    """What gluon_bert would have set had it been imported before MXNet: a list of
    phrases, empty when MXNet is not imported yet or nothing would differ."""
    if 'mxnet' not in sys.modules:
        return []
    missed = []
    if not os.environ.get('OMP_NUM_THREADS') and usable_cpus() > 1:
        missed.append('OMP_NUM_THREADS=%d' % usable_cpus())
    wanted = None if os.environ.get('OPENBLAS_CORETYPE') else openblas_coretype(cpu_flags())
    running = openblas_core()
    if wanted and running and running not in AVX2_CORES:
        missed.append('OPENBLAS_CORETYPE=%s (OpenBLAS runs its %s kernels)' % (wanted, running))
    return missed


_missed = _defaults_missed()
if _missed:
    warnings.warn('gluon_bert was imported after mxnet, too late to set %s; import gluon_bert '
                  'first or set them before starting Python (gluon_bert/__init__.py)'
                  % ' and '.join(_missed), RuntimeWarning, stacklevel=2)

from gluon_bert.model.config import BERTConfig, PRESETS, get_config  # noqa: E402
from gluon_bert.model.bert import (BERTEncoder, MaskLM, NextSentencePred, BERTModel, BERTClassifier)
from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
from gluon_bert.model.folders import Pretrained, save_pretrained, load_classifier, save_classifier
from gluon_bert.pretrained import load_pretrained

__version__ = '0.1.0'

__all__ = ['BERTConfig', 'PRESETS', 'get_config', 'BERTEncoder', 'MaskLM',
           'NextSentencePred', 'BERTModel', 'BERTClassifier', 'WordTokenizer',
           'build_vocab', 'tokenize', 'Pretrained', 'load_pretrained', 'save_pretrained',
           'load_classifier', 'save_classifier']
