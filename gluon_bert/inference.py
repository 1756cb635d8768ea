"""Using a fine-tuned classifier: evaluate it on a file, predict one pair."""
import json
import os

from .checkpoint import load_classifier
from .evaluation import classification_report, format_report
from .finetuning import predict_logits, predict_pair
from .training import parse_contexts

__all__ = ['evaluate_file', 'predict_text']


def evaluate_file(model_dir, data_path, json_path=None, max_len=128, batch_size=512,
                  ctx='cpu', verbose=True):
    """Evaluate the classifier in `model_dir` on the NLI file `data_path`; print the
    table and write the report as JSON.  Returns the report dict."""
    from .snli import read_snli_file, SNLIBERTDataset, LABEL_NAMES
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    net.collect_params().reset_ctx(ctxs)
    data = read_snli_file(data_path)
    dataset = SNLIBERTDataset(data, max_len, tokenizer=tokenizer)
    logits = predict_logits(net, dataset, ctxs, batch_size)
    report = classification_report(dataset.labels, logits.argmax(axis=1), LABEL_NAMES)
    report.update(model=model_dir, data=data_path, skipped=dict(getattr(data, 'skipped', {})))
    if json_path is None:
        base = os.path.splitext(os.path.basename(data_path))[0]
        json_path = os.path.join(model_dir, 'eval_%s.json' % base)
    tmp = json_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=2)
        f.write('\n')
    os.replace(tmp, json_path)
    if verbose:
        print(format_report(report))
        print('report written to %s' % json_path)
    return report


def predict_text(model_dir, premise, hypothesis, max_len=128, ctx='cpu', verbose=True):
    """Label and the three class probabilities for one pair."""
    from .snli import LABEL_NAMES
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    label, probs, truncated = predict_pair(net, tokenizer, premise, hypothesis, max_len,
                                           ctxs[0])
    result = dict(label=LABEL_NAMES[label],
                  probabilities={n: float(p) for n, p in zip(LABEL_NAMES, probs)},
                  truncated=truncated)
    if verbose:
        if truncated:
            print('note: the pair is longer than max_len %d tokens; it was truncated '
                  'longest-first' % max_len)
        print(result['label'])
        for n in LABEL_NAMES:
            print('  %-13s %.4f' % (n, result['probabilities'][n]))
    return result
