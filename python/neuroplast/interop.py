"""Networks that leave neuroplast: a PyTorch module computing the same function, and the History
as plain dictionaries (for pandas, json, plotting)."""

import math


def _activation_module(torch, name):
    if name == "relu":
        return torch.nn.ReLU()
    if name == "leaky_relu":
        # neuroplast's LeakyRelu slope (layers/activation.hpp).
        return torch.nn.LeakyReLU(0.01)
    if name == "tanh":
        return torch.nn.Tanh()
    if name == "sigmoid":
        return torch.nn.Sigmoid()
    raise ValueError(f"to_torch: no PyTorch module for activation {name!r}")


def to_torch(net):
    """A torch.nn.Sequential (Linear, activation, ..., Linear) computing net.forward's logits.

    Pruned connections are zero in the weights, and the paper-convention dropout scale of
    inference (net.inference_scale) is folded into them, so the module computes the function
    forward does. Needs PyTorch (Debian: python3-torch); raises ImportError without it.
    """
    import torch  # imported here: PyTorch is optional

    layers = []
    for l in range(net.layer_count):
        w = net.weights(l) * net.inference_scale(l)
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(net.bias(l)))
        layers.append(linear)
        if l + 1 < net.layer_count:
            layers.append(_activation_module(torch, net.activation))
    return torch.nn.Sequential(*layers)


def history_to_dicts(history):
    """The History as two lists of dicts: one per epoch, one per structural event (NaN where an
    epoch had no validation set)."""
    epochs = [
        {
            "epoch": e.epoch,
            "train_loss": e.train_loss,
            "validation_loss": e.validation_loss,
            "validation_accuracy": e.validation_accuracy,
            "sizes": list(e.sizes),
            "parameter_count": e.parameter_count,
            "active_parameter_count": e.active_parameter_count,
            "seconds": e.seconds,
        }
        for e in history.epochs
    ]
    events = [
        {
            "epoch": e.epoch,
            "kind": e.kind,
            "layer": e.layer,
            "count": e.count,
            "reason": e.reason,
            "trigger_value": None if math.isnan(e.trigger_value) else e.trigger_value,
            "sizes_after": list(e.sizes_after),
        }
        for e in history.events
    ]
    return epochs, events
