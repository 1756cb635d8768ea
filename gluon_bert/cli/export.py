"""Export a fine-tuned classifier for serving: an MXNet symbol and parameters
(gluon.SymbolBlock.imports) or an ONNX model (onnxruntime), with the tokenizer,
config.json and serving.json (input names, label names, max_len) beside it.

    gluon-bert export --model runs/finetune --output runs/export
    gluon-bert export --model runs/finetune --output runs/export-onnx --format onnx
"""
import argparse

from gluon_bert.export import FORMATS, export_classifier


def export_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True, help='fine-tuning output folder')
    p.add_argument('--output', required=True, help='folder to write')
    p.add_argument('--format', choices=FORMATS, default='mxnet',
                   help='mxnet: symbol + params (default); onnx: model.onnx')
    p.add_argument('--overwrite', action='store_true', help='replace an existing --output')
    a = p.parse_args(argv)
    serving = export_classifier(a.model, a.output, a.format, overwrite=a.overwrite)
    print('%s -> %s (%s: %s; inputs %s; labels %s; max_len %d)'
          % (a.model, a.output, a.format, ', '.join(serving['files']),
             ', '.join(i['name'] for i in serving['inputs']), ', '.join(serving['labels']),
             serving['max_len']))
    return serving
