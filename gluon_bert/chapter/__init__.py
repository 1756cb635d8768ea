"""The d2l functions and classes that the chapter "Natural Language Inference:
Fine-Tuning BERT" calls, with the chapter's signatures, on gluon_bert's code.
Its listing runs as written with `from gluon_bert import chapter as d2l` in
place of `import d2l` (the functions work under `npx.set_np()`, as the chapter
calls them, and without it):

* data: `load_data_wiki`, `download_extract`, `read_snli`, `tokenize`,
  `get_tokens_and_segments`, `get_dataloader_workers`, `split_batch`,
  `split_batch_multi_inputs`, `try_gpu`, `try_all_gpus`;
* the model: `BERTModel` (gluon_bert's BERT from the chapter's arguments);
* training: `train_bert` (gluon_bert's pretraining loop), `train_ch13`,
  `train_batch_ch13`, `evaluate_accuracy_gpus`, `accuracy`, `Animator`.

The data are gluon_bert's datasets folder (`$GLUON_BERT_HOME/datasets`,
default `~/.gluon_bert/datasets`), where they are downloaded the first time.
"""
from gluon_bert.chapter.animator import Animator
from gluon_bert.chapter.data import (
    PretrainingBatches, download_extract, get_dataloader_workers, get_tokens_and_segments,
    load_data_wiki, read_snli, split_batch, split_batch_multi_inputs, tokenize, try_all_gpus,
    try_gpu)
from gluon_bert.chapter.model import BERTModel
from gluon_bert.chapter.training import (accuracy, evaluate_accuracy_gpus, train_batch_ch13,
                                         train_bert, train_ch13)

__all__ = ['Animator', 'PretrainingBatches', 'download_extract', 'get_dataloader_workers',
           'get_tokens_and_segments', 'load_data_wiki', 'read_snli', 'split_batch',
           'split_batch_multi_inputs', 'tokenize', 'try_all_gpus', 'try_gpu', 'BERTModel',
           'accuracy', 'evaluate_accuracy_gpus', 'train_batch_ch13', 'train_bert',
           'train_ch13']
