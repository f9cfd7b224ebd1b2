"""Re-initialising a pretrained encoder's top layers before fine-tuning (``Recipe.reinit_top_layers``).

Zhang, Wu, Katiyar, Weinberger and Artzi, "Revisiting Few-sample BERT Fine-tuning" (ICLR 2021),
section 5: the top layers of a pretrained encoder are specialised to its pre-training objective and
transfer worst; re-initialising them (and the pooler) from the model's own initialiser before
fine-tuning on a small data set gives better and, above all, less seed-dependent results.

The layers are found as the base model's layer list (``model.bert.encoder.layer`` for BERT and
MiniLM; see :data:`LAYER_LISTS`). Each module under the chosen layers and the pooler is re-drawn by
``model._init_weights``, the initialiser ``from_pretrained`` uses for weights a checkpoint lacks,
with torch's random state seeded from the run's seed inside :func:`torch.random.fork_rng`: the draw
is the same for a seed, and the rest of the run (the head, dropout, batch order) draws exactly what
it would have drawn without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.run.config import ConfigError

# Where the stack of transformer layers lives under a model's base model, by architecture family:
# BERT, RoBERTa, ELECTRA, MiniLM (encoder.layer); DistilBERT (transformer.layer); BART-style
# encoders and most decoders (encoder.layers, layers).
LAYER_LISTS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")
# Torch's random stream for the re-initialisation, apart from the seed's other uses (see training.py).
REINIT_STREAM = 3


def encoder_layers(model: Any) -> tuple[str, Any]:
    """The model's stack of transformer layers as (its path under the base model, the ModuleList).

    A ConfigError names the paths looked for and the fix when the model has none of them.
    """
    import torch

    base = getattr(model, "base_model", model)
    for path in LAYER_LISTS:
        found = base
        for part in path.split("."):
            found = getattr(found, part, None)
        if isinstance(found, torch.nn.ModuleList) and len(found):
            return path, found
    raise ConfigError(
        f"reinit_top_layers: cannot find the transformer layers of {type(model).__name__} (looked for "
        f"{', '.join(f'{type(base).__name__}.{path}' for path in LAYER_LISTS)}); use a BERT-like encoder, "
        "or set reinit_top_layers = 0 for this model"
    )


def reinit_problem(count: int, num_layers: int | None) -> str | None:
    """Why ``count`` top layers of a ``num_layers``-layer model cannot be re-initialised, or None."""
    if num_layers is not None and count > num_layers:
        return (f"reinit_top_layers = {count}, but the model has {num_layers} transformer layers; "
                f"use 0 to {num_layers} (0 turns re-initialisation off)")
    return None


def reinit_seed(seed: int) -> int:
    """The torch seed the re-initialisation draws from: fixed by the run's seed, apart from the head's."""
    return int(np.random.SeedSequence([seed, REINIT_STREAM]).generate_state(1)[0])


def reinit_top_layers(model: Any, count: int, *, seed: int) -> list[str]:
    """Re-initialise the top ``count`` transformer layers of ``model`` and its pooler, in place.

    Returns the names (as in ``model.named_modules()``) of the re-initialised layers and pooler;
    ``count = 0`` changes nothing and returns ``[]``. The draw depends only on ``seed``.
    """
    import torch

    if count == 0:
        return []
    path, layers = encoder_layers(model)
    problem = reinit_problem(count, len(layers))
    if problem:
        raise ConfigError(problem)
    base = getattr(model, "base_model", model)
    chosen = list(layers[len(layers) - count:])
    pooler = getattr(base, "pooler", None)
    if isinstance(pooler, torch.nn.Module):
        chosen.append(pooler)
    names = {module: name for name, module in model.named_modules()}
    cuda = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.manual_seed(reinit_seed(seed))
        for top in chosen:
            for module in top.modules():
                tensors = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
                # Loaded weights carry transformers' "already initialised" mark, which makes its
                # initialisers skip them; lift it so _init_weights draws them afresh, then restore it.
                for tensor in tensors:
                    tensor._is_hf_initialized = False
                model._init_weights(module)
                for tensor in tensors:
                    tensor._is_hf_initialized = True
    return [names[module] for module in chosen]
