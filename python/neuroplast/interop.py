"""Networks that leave neuroplast and come back: safetensors read with numpy alone, a PyTorch
module computing the same function and the way back, and the History as plain dictionaries (for
pandas, json, plotting)."""

import json
import math
import struct

import numpy as np


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


_DTYPES = {"F32": np.float32, "F64": np.float64}


def read_safetensors(path):
    """The tensors of a safetensors file as a dict of numpy arrays (name -> array), read with
    numpy alone (no safetensors package needed). Raises ValueError for a file that is not one."""
    return _read_safetensors(path)[0]


def _read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"read_safetensors: {path} is not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"read_safetensors: {path} is damaged: header length {n}")

    def damaged(why):
        return ValueError(f"read_safetensors: {path} is not a safetensors file or is damaged: {why}")

    try:
        header = json.loads(raw[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise damaged(f"its header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise damaged("its header is not a JSON object")
    data = raw[8 + n :]
    metadata = header.get("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise damaged(f"tensor {name!r} lacks dtype, shape or data_offsets") from None
        if dtype not in _DTYPES:
            raise ValueError(f"read_safetensors: {path}: tensor {name} has dtype {dtype}")
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(data)):
            raise damaged(f"tensor {name!r} has data_offsets {[begin, end]} outside the "
                          f"{len(data)} bytes of data")
        itemsize = np.dtype(_DTYPES[dtype]).itemsize
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)
                and math.prod(shape) * itemsize == end - begin):
            raise damaged(f"tensor {name!r} of shape {shape} does not match its "
                          f"{end - begin} bytes of {dtype}")
        values = np.frombuffer(data[begin:end], dtype=_DTYPES[dtype])
        tensors[name] = values.reshape(shape).copy()
    return tensors, metadata


def from_safetensors(path, activation=None):
    """The network save_safetensors wrote to `path`: weights, biases and connection masks, with the
    activation its metadata names (files from elsewhere: pass `activation`; default relu)."""
    from ._neuroplast import Mlp

    tensors, metadata = _read_safetensors(path)
    activation = activation or metadata.get("activation", "relu")
    layers = 0
    while f"layers.{layers}.weight" in tensors:
        layers += 1
    if layers == 0:
        raise ValueError(f"from_safetensors: {path} holds no layers.0.weight")
    weights = [tensors[f"layers.{l}.weight"] for l in range(layers)]
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    net = Mlp(sizes, activation=activation)
    for l in range(layers):
        mask = tensors.get(f"layers.{l}.mask")
        if mask is not None:
            net.prune_connections(l, mask.astype(np.float32))
        net.set_weights(l, weights[l].astype(np.float32))
        net.set_bias(l, tensors[f"layers.{l}.bias"].astype(np.float32))
    return net


def from_torch(module, activation=None):
    """A neuroplast Mlp computing what `module` computes: a torch.nn.Sequential of Linear layers
    with ReLU, LeakyReLU(0.01), Tanh or Sigmoid between them (what to_torch makes). The activation
    is read from the module unless given."""
    import torch

    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("from_torch: the module has no Linear layer")
    names = {torch.nn.ReLU: "relu", torch.nn.LeakyReLU: "leaky_relu", torch.nn.Tanh: "tanh",
             torch.nn.Sigmoid: "sigmoid"}
    found = {names[type(m)] for m in module if type(m) in names}
    others = [m for m in module if not isinstance(m, torch.nn.Linear) and type(m) not in names]
    if others or len(found) > 1:
        raise ValueError(f"from_torch: only Linear layers and one of ReLU, LeakyReLU, Tanh, "
                         f"Sigmoid between them can be converted, not {module}")
    activation = activation or (found.pop() if found else "relu")
    from ._neuroplast import Mlp

    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    net = Mlp(sizes, activation=activation)
    for l, m in enumerate(linears):
        net.set_weights(l, m.weight.detach().cpu().numpy().astype(np.float32))
        bias = m.bias.detach().cpu().numpy() if m.bias is not None else np.zeros(m.out_features)
        net.set_bias(l, bias.astype(np.float32))
    return net


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
