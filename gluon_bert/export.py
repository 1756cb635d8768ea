"""Export a fine-tuned classifier for serving, without gluon_bert's model code.

`export_classifier(model_dir, output, fmt)` writes into `output`:

* `mxnet` (default): the hybridized classifier as an MXNet symbol and its
  parameters (`HybridBlock.export`: `model-symbol.json`, `model-0000.params`),
  loadable with `gluon.SymbolBlock.imports`;
* `onnx`: the same graph as `model.onnx` (through `mxnet.onnx.export_model`),
  with a dynamic batch and sequence length, for onnxruntime;

and, beside it, the tokenizer's files (`vocab.json` and `tokenizer.json`, or
`vocab.txt`), `config.json` (the architecture) and `serving.json`: the format,
the files, the input and output names, shapes and meaning, the label names in
output order, `max_len` and the token ids of `<cls>`, `<sep>` and `<pad>`.

The graph takes three float32 inputs, `data0` token ids (batch, seq), `data1`
segment ids (batch, seq) and `data2` valid lengths (batch,), and returns the
logits (batch, 3).  seq may be anything up to the model's positions
(`config.json` `max_len`); positions past a pair's valid length are masked, so
padding does not change its logits.

The ONNX exporter of MXNet 1.9.1 has no `rsqrt` (used by the CPU LayerNorm of
the training graph) and, with onnx >= 1.13, cannot export the fused
`LayerNorm`; the exported graph therefore uses the `portable` LayerNorm (same
parameters, `reciprocal(sqrt)`).  The attention's reshapes use no -3/-4 codes (the
exporter does not convert them).
"""
import contextlib
import logging
import os
import shutil
import tempfile

import numpy as np
import mxnet as mx

from gluon_bert.data.snli import LABEL_NAMES
from gluon_bert.fileio import write_json_atomic
from gluon_bert.model.bert import LayerNorm
from gluon_bert.model.folders import load_classifier, load_task

__all__ = ['FORMATS', 'INPUTS', 'export_classifier', 'SERVING_FILE']

FORMATS = ('mxnet', 'onnx')
SERVING_FILE = 'serving.json'
SYMBOL_PREFIX = 'model'
ONNX_FILE = 'model.onnx'
# The names HybridBlock.export gives the three inputs, and what they hold.
INPUTS = [
    dict(name='data0', meaning='token ids: <cls> premise <sep> hypothesis <sep>, then <pad>',
         shape=['batch', 'seq'], dtype='float32'),
    dict(name='data1', meaning='segment ids: 0 up to the first <sep>, 1 after it, 0 on <pad>',
         shape=['batch', 'seq'], dtype='float32'),
    dict(name='data2', meaning='valid lengths: tokens before the padding', shape=['batch'],
         dtype='float32'),
]


def _portable(net):
    """Use the LayerNorm the ONNX exporter converts (same parameters, outputs
    equal to float rounding)."""
    def visit(block):
        if isinstance(block, LayerNorm):
            block.impl = 'portable'
    net.apply(visit)


def _example_inputs(config, batch=2, length=8):
    length = min(length, config.max_len)
    return (mx.nd.zeros((batch, length)), mx.nd.zeros((batch, length)),
            mx.nd.full((batch,), length))


class _DropDotNote(logging.Filter):
    """The exporter warns about `dot` of > 2-D inputs at every `dot`; the
    model's one `dot` is 2-D."""

    def filter(self, record):
        return not record.getMessage().startswith('Converting dot operator')


@contextlib.contextmanager
def _quiet_dot_note():
    note = _DropDotNote()
    logging.getLogger().addFilter(note)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(note)


def _export_symbol(net, folder):
    net.hybridize()
    net(*_example_inputs(net.config))
    net.export(os.path.join(folder, SYMBOL_PREFIX))
    return (os.path.join(folder, SYMBOL_PREFIX + '-symbol.json'),
            os.path.join(folder, SYMBOL_PREFIX + '-0000.params'))


def _export_onnx(net, folder):
    import onnx
    import mxnet.onnx as mx_onnx
    with tempfile.TemporaryDirectory() as tmp:
        symbol, params = _export_symbol(net, tmp)
        path = os.path.join(folder, ONNX_FILE)
        shapes = [tuple(a.shape) for a in _example_inputs(net.config)]
        with _quiet_dot_note():
            mx_onnx.export_model(symbol, params, shapes, [np.float32] * 3, path,
                                 dynamic=True,
                                 dynamic_input_shapes=[tuple(i['shape']) for i in INPUTS])
    # The parameters are constants (initializers), not inputs a caller may set.
    model = onnx.load(path)
    constants = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in constants]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    output = model.graph.output[0].name
    return [ONNX_FILE], output


def export_classifier(model_dir, output, fmt='mxnet', overwrite=False):
    """Export the fine-tuned classifier of `model_dir` into the folder `output`
    in the format `fmt` ('mxnet' or 'onnx'); see the module's docstring.  The
    folder is written whole under a temporary name and then renamed: an
    existing export is replaced only with `overwrite`.  Returns the
    `serving.json` dict."""
    if fmt not in FORMATS:
        raise ValueError('unknown export format %r; choose one of %s' % (fmt, ', '.join(FORMATS)))
    if os.path.exists(output) and (os.listdir(output) if os.path.isdir(output) else True) \
            and not overwrite:
        raise FileExistsError('%s already exists; pass --overwrite to replace it' % output)
    net, tokenizer = load_classifier(model_dir, ctx=mx.cpu())
    task = load_task(model_dir)             # a `finetune-task` folder: its classes, columns
    labels = list(LABEL_NAMES) if task is None else list(task['labels'])
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.export-', dir=parent)
    try:
        if fmt == 'onnx':
            _portable(net)
            files, output_name = _export_onnx(net, tmp)
        else:
            symbol, params = _export_symbol(net, tmp)
            files = [os.path.basename(symbol), os.path.basename(params)]
            output_name = mx.sym.load(symbol).list_outputs()[0]
        net.config.save(os.path.join(tmp, 'config.json'))
        tokenizer.save(tmp)
        serving = dict(format=fmt, files=files, inputs=INPUTS,
                       output=dict(name=output_name, meaning='logits, in the order of labels',
                                   shape=['batch', len(labels)], dtype='float32'),
                       labels=labels, max_len=net.config.max_len,
                       cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id,
                       pad_id=tokenizer.pad_id, source=os.path.abspath(model_dir))
        if task is not None:
            serving['text_columns'] = list(task['text_columns'])
        write_json_atomic(os.path.join(tmp, SERVING_FILE), serving)
        old = None
        if os.path.exists(output):
            old = tempfile.mkdtemp(prefix='.old-export-', dir=parent)
            os.replace(output, os.path.join(old, 'x'))
        os.replace(tmp, output)
        tmp = None
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return serving
