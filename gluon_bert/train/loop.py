"""The training loop both jobs share."""
from gluon_bert.model.bert import select_layer_norm
from gluon_bert.train import devices as _dist

__all__ = ['prepare_net']


def prepare_net(net, ctxs, hybridize=True, amp=False, grad_accum=1):
    """Ready `net` for a training loop on the devices `ctxs`: float16 mixed
    precision (`amp`), the LayerNorm kind for the devices, the static graph
    (`hybridize`) and gradient accumulation over `grad_accum` micro-batches."""
    if amp:
        _dist.init_amp(ctxs)
    select_layer_norm(net, ctxs)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    _dist.enable_grad_accumulation(net.collect_params(), grad_accum)
