"""The text search space (`space.kind: text`): an embedding, Conv1D blocks, an optional bidirectional
recurrent layer and an optional transformer-encoder block, pooled over the sequence.

A candidate reads the int32 token ids that `nas_core.text.vectorize` makes of each text (n,
sequence_length). Its dimensions:
- `vocabulary_size`: one choice, the vocabulary the prepare stage built, so that `build_text_model`
  needs nothing but the architecture (and an architecture says which vocabulary it was trained on);
- `embedding_dim`; `conv_blocks`, block i with its own `filters_i` and `kernel_i`;
- `recurrent_layers` (0/1) with `recurrent_cell` and `recurrent_units`; `transformer_blocks` (0/1)
  with `heads`; then `pooling`, `dense_units` (0: none), `activation` and `dropout`.

Settings of a part that is absent are inactive, so `SearchSpace.canonical` makes samples that build
the same network equal. Convolutions pad 'same' and never pool, so every candidate can be built for
any sequence length: this space needs no shape rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nas_core.space import Condition, Dimension, SearchSpace

if TYPE_CHECKING:  # types only: the flow process, which describes architectures, never loads TensorFlow
    import keras

    from nas_core.config import TextSpaceConfig

PER_NETWORK_DIMS = ("pooling", "dense_units", "activation", "dropout")


def text_search_space(cfg: TextSpaceConfig, vocabulary_size: int) -> SearchSpace:
    """The params.yaml `space` section (kind text) over a vocabulary of `vocabulary_size` token ids.

    The parents of conditions (`conv_blocks`, `recurrent_layers`, `transformer_blocks`) are sorted,
    as in the CNN space, so that neighbouring choices are neighbouring depths.
    """
    dims: list[Dimension] = [
        Dimension("vocabulary_size", (int(vocabulary_size),)),
        Dimension("embedding_dim", tuple(cfg.embedding_dim)),
        Dimension("conv_blocks", tuple(sorted(cfg.conv_blocks))),
    ]
    conds: list[Condition] = []
    for i in range(max(cfg.conv_blocks)):
        dims += [Dimension(f"filters_{i}", tuple(cfg.filters)), Dimension(f"kernel_{i}", tuple(cfg.kernel_size))]
        conds += [Condition(f"filters_{i}", "conv_blocks", i + 1), Condition(f"kernel_{i}", "conv_blocks", i + 1)]
    dims += [
        Dimension("recurrent_layers", tuple(sorted(cfg.recurrent_layers))),
        Dimension("recurrent_cell", tuple(cfg.recurrent_cell)),
        Dimension("recurrent_units", tuple(cfg.recurrent_units)),
        Dimension("transformer_blocks", tuple(sorted(cfg.transformer_blocks))),
        Dimension("heads", tuple(cfg.heads)),
    ]
    conds += [
        Condition("recurrent_cell", "recurrent_layers", 1),
        Condition("recurrent_units", "recurrent_layers", 1),
        Condition("heads", "transformer_blocks", 1),
    ]
    for name in PER_NETWORK_DIMS:
        dims.append(Dimension(name, tuple(getattr(cfg, name))))
    return SearchSpace(tuple(dims), tuple(conds))


def is_text(arch: Mapping[str, Any]) -> bool:
    """Whether a sample comes from the text space (its only dimension no other space has)."""
    return "embedding_dim" in arch


def _transformer_block(x: Any, heads: int, activation: str) -> Any:
    """Self-attention then a feed-forward of twice the width, each added back and layer-normalized (post-norm).

    key_dim is the width split over the heads, so attention costs about the same for any head count.
    """
    import keras

    width = int(x.shape[-1])
    attention = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=max(1, width // heads))(x, x)
    x = keras.layers.LayerNormalization()(keras.layers.Add()([x, attention]))
    feed_forward = keras.layers.Dense(2 * width, activation=activation)(x)
    feed_forward = keras.layers.Dense(width)(feed_forward)
    return keras.layers.LayerNormalization()(keras.layers.Add()([x, feed_forward]))


def build_text_model(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """Build (not compile) the model for `arch` over int32 token ids of shape `input_shape`, `(sequence_length,)`.

    The padding id 0 is not masked: it is an ordinary learned token, at the end of every short text
    in training and serving alike. Masking would be correct only if every layer honoured it, and
    Conv1D and global max pooling do not. There is no positional embedding either: word order
    reaches the model through the convolutions and the recurrent layer (a transformer block alone
    sees a bag of words). Inactive dimensions may be missing (a canonical sample).
    """
    import keras

    activation = str(arch["activation"])
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(int(arch["vocabulary_size"]), int(arch["embedding_dim"]))(inputs)
    for i in range(int(arch["conv_blocks"])):
        x = keras.layers.Conv1D(
            int(arch[f"filters_{i}"]), int(arch[f"kernel_{i}"]), padding="same", activation=activation
        )(x)
    if int(arch["recurrent_layers"]):
        cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[str(arch["recurrent_cell"])]
        x = keras.layers.Bidirectional(cell(int(arch["recurrent_units"]), return_sequences=True))(x)
    if int(arch["transformer_blocks"]):
        x = _transformer_block(x, int(arch["heads"]), activation)
    if arch["pooling"] == "max":
        x = keras.layers.GlobalMaxPooling1D()(x)
    else:
        x = keras.layers.GlobalAveragePooling1D()(x)
    if float(arch["dropout"]) > 0:
        x = keras.layers.Dropout(float(arch["dropout"]))(x)
    if int(arch["dense_units"]) > 0:
        x = keras.layers.Dense(int(arch["dense_units"]), activation=activation)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    # Not "text": `with_raw_text_input` names its string input so, and one model cannot hold both names.
    return keras.Model(inputs, outputs, name="text_classifier")


def describe_text(arch: Mapping[str, Any]) -> str:
    """A one-line summary for progress output, e.g. `e64 c64k5 bigru32 tf2h gmax d64 | relu do0.25`."""
    parts = [f"e{arch['embedding_dim']}"]
    parts += [f"c{arch[f'filters_{i}']}k{arch[f'kernel_{i}']}" for i in range(int(arch.get("conv_blocks", 0)))]
    if int(arch.get("recurrent_layers", 0)):
        parts.append(f"bi{arch['recurrent_cell']}{arch['recurrent_units']}")
    if int(arch.get("transformer_blocks", 0)):
        parts.append(f"tf{arch['heads']}h")
    parts.append(f"g{arch.get('pooling', '')}")
    if int(arch.get("dense_units", 0)):
        parts.append(f"d{arch['dense_units']}")
    extras = [str(arch.get("activation", ""))]
    if arch.get("dropout"):
        extras.append(f"do{arch['dropout']}")
    return " ".join(parts) + " | " + " ".join(extras)
