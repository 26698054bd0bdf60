"""neuroplast: neural networks that grow and shrink while they learn.

Python bindings (float32) of the header-only C++20 library. Arrays are numpy arrays of shape
(batch, features); float32 in C order reaches the library without a copy.

    import neuroplast as npl
    net = npl.Mlp([2, 8, 2], activation="relu", seed=1)
    trainer = npl.Trainer(net, npl.Adam(learning_rate=1e-3), npl.DropinPolicy(),
                          epochs=30, batch_size=32, seed=1)
    history = trainer.fit(X, y, X_val, y_val)

Errors raise neuroplast.Error (FileError and NumericError derive from it) with the library's
message. See docs/python.md.
"""

from ._neuroplast import (  # noqa: F401
    Adam,
    AdamW,
    DropinPolicy,
    DropoutPolicy,
    EpochRecord,
    Error,
    Evaluation,
    FileError,
    History,
    InferenceSnapshot,
    Mlp,
    NeuroplasticPolicy,
    NumericError,
    ReplayBuffer,
    SGD,
    Sgd,
    StaticPolicy,
    StructuralEvent,
    Trainer,
    __version__,
    load,
    lrp,
    save,
    save_onnx,
    save_safetensors,
)
from .interop import (  # noqa: F401
    from_safetensors,
    from_torch,
    history_to_dicts,
    read_safetensors,
    to_torch,
)

# help() and repr() name the package, not its compiled part.
for _name in ("Adam", "AdamW", "DropinPolicy", "DropoutPolicy", "EpochRecord", "Evaluation",
              "History", "InferenceSnapshot", "Mlp", "NeuroplasticPolicy", "ReplayBuffer", "Sgd",
              "StaticPolicy", "StructuralEvent", "Trainer"):
    globals()[_name].__module__ = __name__
del _name

__all__ = [
    "Adam", "AdamW", "DropinPolicy", "DropoutPolicy", "EpochRecord", "Error", "Evaluation",
    "FileError", "History", "InferenceSnapshot", "Mlp", "NeuroplasticPolicy", "NumericError",
    "ReplayBuffer", "SGD", "Sgd",
    "StaticPolicy", "StructuralEvent", "Trainer", "from_safetensors", "from_torch",
    "history_to_dicts", "load", "lrp", "read_safetensors", "save", "save_onnx",
    "save_safetensors", "to_torch",
]
