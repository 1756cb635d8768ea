"""Model configuration: one JSON-serialisable object, with the chapter's presets."""
import dataclasses

from gluon_bert.fileio import read_json, write_json_atomic

__all__ = ['BERTConfig', 'PRESETS', 'get_config']


@dataclasses.dataclass
class BERTConfig:
    """Architecture of a BERT model (d2l defaults; original-BERT options off)."""
    vocab_size: int = 0
    num_hiddens: int = 128
    ffn_num_hiddens: int = 128
    num_heads: int = 2
    num_blks: int = 2
    dropout: float = 0.2
    max_len: int = 128
    # Options for original-BERT checkpoints; the chapter's model leaves them off.
    activation: str = 'relu'            # 'relu' (chapter) or 'gelu'
    layer_norm_eps: float = 1e-5        # MXNet's LayerNorm default
    # How LayerNorm is computed (same parameters and outputs): 'matmul' (matrix
    # products; fast on CPUs), 'native' (MXNet's fused operator; for GPUs) or
    # 'auto' (chosen by the training loops from the devices).
    layer_norm: str = 'auto'
    embed_layer_norm: bool = False      # LayerNorm + dropout after the embeddings
    attention_dropout: float = None     # None: same as dropout
    mlm_activation: str = 'relu'        # MaskLM transform activation
    type_vocab_size: int = 2
    # Classifier head: 'mlp' (the chapter's: Dense(256, relu) + Dense(3) on
    # <cls>) or 'hidden' (d2l 1.0's: the pretrained tanh `hidden` + Dense(3)), or
    # a head of model.heads on all the tokens: 'mean', 'cnn', 'bilstm', 'attention'
    # (classifier_hiddens: the mlp's units, the cnn's filters per width, the
    # bilstm's units over both directions).  A folder's config.json names its head.
    classifier_head: str = 'mlp'
    classifier_hiddens: int = 256
    num_classes: int = 3
    classifier_kernel_sizes: list = dataclasses.field(default_factory=lambda: [3, 5])

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError('unknown BERTConfig fields: %s' % ', '.join(unknown))
        return cls(**d)

    def save(self, path):
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path):
        return cls.from_dict(read_json(path))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# The chapter's model sizes.  `d2l.pretrain` is the size the MXNet pretraining
# section trains on WikiText-2; `bert.small` and `bert.base` are the sizes of the
# pretrained models the fine-tuning section loads.
PRESETS = {
    'd2l.pretrain': dict(num_hiddens=128, ffn_num_hiddens=128, num_heads=2,
                         num_blks=2, dropout=0.2, max_len=128),
    'bert.small': dict(num_hiddens=256, ffn_num_hiddens=512, num_heads=4,
                       num_blks=2, dropout=0.1, max_len=512),
    'bert.base': dict(num_hiddens=768, ffn_num_hiddens=3072, num_heads=12,
                      num_blks=12, dropout=0.1, max_len=512),
    # A small model for the offline demo on the synthetic corpus.
    'demo': dict(num_hiddens=64, ffn_num_hiddens=128, num_heads=2, num_blks=2,
                 dropout=0.1, max_len=64),
}


def get_config(name, vocab_size, **overrides):
    """Return the preset `name` for a vocabulary of `vocab_size` tokens."""
    if name not in PRESETS:
        raise ValueError('unknown preset %r; choose one of %s' % (name, ', '.join(sorted(PRESETS))))
    d = dict(PRESETS[name], vocab_size=vocab_size)
    d.update(overrides)
    return BERTConfig(**d)
