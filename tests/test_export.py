"""Export for serving: the MXNet symbol (gluon.SymbolBlock.imports) and the ONNX
model (onnxruntime) give the classifier's logits on padded batches of any
batch size and length; the tokenizer, config and serving.json come along."""
import json
import os

import numpy as np
import mxnet as mx
import pytest
from mxnet import gluon

from gluon_bert.cli import run as run_command
from gluon_bert.data.snli import LABEL_NAMES, encode_pairs
from gluon_bert.data.synthetic import nli_task
from gluon_bert.model.folders import load_classifier
from gluon_bert.text import load_tokenizer


def padded_batches(tokenizer, max_len):
    """(tokens, segments, valid_lens) float32 batches of pairs of different
    lengths, each padded to its own length (5 to max_len): the padding varies."""
    premises, hypotheses, _ = nli_task(12, seed=3)
    premises = list(premises)
    premises[0] = ' '.join([premises[0]] * 2)                # a longer pair
    tokens, segments, valid_lens = encode_pairs(premises, hypotheses, max_len, tokenizer)
    batches = []
    for rows, length in ((slice(0, 5), max_len), (slice(5, 6), 16), (slice(1, 12), 24),
                         (slice(6, 9), 20)):
        v = np.minimum(valid_lens[rows], length)
        batches.append((tokens[rows, :length].astype(np.float32),
                        segments[rows, :length].astype(np.float32), v.astype(np.float32)))
    return batches


def reference_logits(model_dir, batches):
    net, _ = load_classifier(model_dir)
    return [net(*(mx.nd.array(a) for a in batch)).asnumpy() for batch in batches]


def test_mxnet_export_loads_as_a_symbol_block(finetuned_model, tmp_path):
    out = str(tmp_path / 'export')
    assert run_command('export', ['--model', finetuned_model, '--output', out]) == 0
    with open(os.path.join(out, 'serving.json')) as f:
        serving = json.load(f)
    assert serving['format'] == 'mxnet' and serving['labels'] == LABEL_NAMES
    assert serving['max_len'] == 32
    names = [i['name'] for i in serving['inputs']]
    block = gluon.SymbolBlock.imports(os.path.join(out, 'model-symbol.json'), names,
                                      os.path.join(out, 'model-0000.params'))
    tokenizer = load_tokenizer(out)                 # the tokenizer comes along
    assert serving['pad_id'] == tokenizer.pad_id and serving['cls_id'] == tokenizer.cls_id
    batches = padded_batches(tokenizer, serving['max_len'])
    for batch, expected in zip(batches, reference_logits(finetuned_model, batches)):
        got = block(*(mx.nd.array(a) for a in batch)).asnumpy()
        assert got.shape == (len(batch[0]), 3)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # An existing export is kept unless --overwrite.
    assert run_command('export', ['--model', finetuned_model, '--output', out]) == 1
    assert run_command('export', ['--model', finetuned_model, '--output', out,
                                  '--overwrite']) == 0


def test_onnx_export_runs_in_onnxruntime(finetuned_model, tmp_path):
    import onnxruntime
    out = str(tmp_path / 'onnx')
    assert run_command('export', ['--model', finetuned_model, '--output', out,
                                  '--format', 'onnx']) == 0
    with open(os.path.join(out, 'serving.json')) as f:
        serving = json.load(f)
    session = onnxruntime.InferenceSession(os.path.join(out, serving['files'][0]))
    names = [i.name for i in session.get_inputs()]
    assert names == [i['name'] for i in serving['inputs']] == ['data0', 'data1', 'data2']
    # Dynamic axes: batch and sequence length are free.
    assert [i.shape for i in session.get_inputs()] == [['batch', 'seq'], ['batch', 'seq'],
                                                       ['batch']]
    batches = padded_batches(load_tokenizer(out), serving['max_len'])
    worst = 0.0
    for batch, expected in zip(batches, reference_logits(finetuned_model, batches)):
        got, = session.run(None, dict(zip(names, batch)))
        assert got.shape == (len(batch[0]), 3)
        worst = max(worst, float(np.abs(got - expected).max()))
    assert worst <= 1e-4, worst
