"""gluon_bert: the "Natural Language Inference: Fine-Tuning BERT" chapter in
MXNet/Gluon — pretrain a small BERT on WikiText-2, fine-tune it on SNLI."""
from .config import BERTConfig, PRESETS, get_config
from .model import (BERTEncoder, MaskLM, NextSentencePred, BERTModel, BERTClassifier)
from .text import WordTokenizer, build_vocab, tokenize
from .checkpoint import (Pretrained, load_pretrained, save_pretrained, load_classifier,
                         save_classifier)

__version__ = '0.1.0'

__all__ = ['BERTConfig', 'PRESETS', 'get_config', 'BERTEncoder', 'MaskLM',
           'NextSentencePred', 'BERTModel', 'BERTClassifier', 'WordTokenizer',
           'build_vocab', 'tokenize', 'Pretrained', 'load_pretrained', 'save_pretrained',
           'load_classifier', 'save_classifier']
