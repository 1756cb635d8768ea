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
"""
import os
import sys

from gluon_bert.system import cpu_flags, openblas_coretype, usable_cpus

# Whether the values in os.environ are these defaults rather than the user's choice.
_omp_threads_defaulted = 'mxnet' not in sys.modules and not os.environ.get('OMP_NUM_THREADS')
if _omp_threads_defaulted:
    os.environ['OMP_NUM_THREADS'] = str(usable_cpus())
_openblas_coretype = (None if 'mxnet' in sys.modules or os.environ.get('OPENBLAS_CORETYPE')
                      else openblas_coretype(cpu_flags()))
if _openblas_coretype:
    os.environ['OPENBLAS_CORETYPE'] = _openblas_coretype

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
