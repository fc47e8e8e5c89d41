"""The text search space: its size and conditions, every builder corner, and that a candidate learns a toy corpus."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nas_core.config import TextSpaceConfig
from nas_core.text import fit_vocabulary, vectorize
from nas_core.text_space import build_text_model, describe_text, is_text, text_search_space

# Two classes that share only filler words: weather (0) and food (1).
FILLER = ["the", "is", "so", "very", "today"]
TOPICS = [
    ["rain", "sunny", "cloud", "wind", "storm", "snow"],
    ["pizza", "bread", "cheese", "soup", "apple", "pasta"],
]


def toy_corpus(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` short made-up sentences, each two topic words among two filler words, labels alternating."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    texts = []
    for label in labels:
        words = [*rng.choice(TOPICS[label], 2), *rng.choice(FILLER, 2)]
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
    return np.array(texts), labels.astype(np.int64)


def arch(**overrides: object) -> dict:
    base: dict = {
        "vocabulary_size": 50,
        "embedding_dim": 8,
        "conv_blocks": 0,
        "recurrent_layers": 0,
        "transformer_blocks": 0,
        "pooling": "max",
        "dense_units": 0,
        "activation": "relu",
        "dropout": 0.0,
    }
    return base | overrides


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_space_dimensions_conditions_and_size() -> None:
    cfg = TextSpaceConfig(
        kind="text",
        embedding_dim=[16, 32],
        conv_blocks=[2, 0, 1],
        filters=[8, 16],
        kernel_size=[3],
        recurrent_layers=[1, 0],
        recurrent_cell=["lstm", "gru"],
        recurrent_units=[8],
        transformer_blocks=[0, 1],
        heads=[2, 4],
        pooling=["max"],
        dense_units=[0],
        activation=["relu"],
        dropout=[0.0],
    )
    space = text_search_space(cfg, vocabulary_size=1234)
    assert space.names == [
        "vocabulary_size",
        "embedding_dim",
        "conv_blocks",
        "filters_0",
        "kernel_0",
        "filters_1",
        "kernel_1",
        "recurrent_layers",
        "recurrent_cell",
        "recurrent_units",
        "transformer_blocks",
        "heads",
        "pooling",
        "dense_units",
        "activation",
        "dropout",
    ]
    assert space.dimension("vocabulary_size").choices == (1234,)
    assert space.dimension("conv_blocks").choices == (0, 1, 2)
    assert space.dimension("recurrent_layers").choices == (0, 1)
    # embedding 2 x conv (1 + 2 + 4) x recurrent (1 + 2 cells) x transformer (1 + 2 heads)
    assert space.size() == 2 * 7 * 3 * 3
    full = arch(
        vocabulary_size=1234,
        embedding_dim=16,
        conv_blocks=2,
        filters_0=8,
        kernel_0=3,
        filters_1=16,
        kernel_1=3,
        recurrent_layers=1,
        recurrent_cell="gru",
        recurrent_units=8,
        transformer_blocks=1,
        heads=4,
    )
    assert space.contains(full) and space.canonical(full) == full
    shallow = space.canonical(full | {"conv_blocks": 1, "recurrent_layers": 0, "transformer_blocks": 0})
    assert shallow == arch(vocabulary_size=1234, embedding_dim=16, conv_blocks=1, filters_0=8, kernel_0=3)
    assert space.canonical(space.complete(shallow)) == shallow
    # Settings of an absent part cannot make two candidates of one model.
    assert space.canonical(full | {"recurrent_layers": 0, "recurrent_cell": "lstm"}) == space.canonical(
        full | {"recurrent_layers": 0}
    )


def test_is_text_tells_the_spaces_apart() -> None:
    assert is_text(arch())
    assert not is_text({"conv_blocks": 1, "dense_layers": 0})
    assert not is_text({"hidden_layers": 1})


def test_the_smallest_candidate_is_embedding_pooling_softmax() -> None:
    model = build_text_model(arch(), (12,), 3)
    assert layer_types(model) == ["InputLayer", "Embedding", "GlobalMaxPooling1D", "Dense"]
    assert model.inputs[0].dtype == "int32" and model.input_shape == (None, 12)
    assert model.count_params() == 50 * 8 + 8 * 3 + 3


@pytest.mark.parametrize(
    ("cell", "pooling", "heads"),
    [("lstm", "max", 2), ("gru", "avg", 4), ("gru", "max", 32)],
)
def test_every_part_builds_and_predicts_probabilities(cell: str, pooling: str, heads: int) -> None:
    sample = arch(
        conv_blocks=2,
        filters_0=8,
        kernel_0=5,
        filters_1=12,
        kernel_1=3,
        recurrent_layers=1,
        recurrent_cell=cell,
        recurrent_units=6,
        transformer_blocks=1,
        heads=heads,
        pooling=pooling,
        dense_units=16,
        activation="gelu",
        dropout=0.25,
    )
    model = build_text_model(sample, (7,), 4)
    types = layer_types(model)
    assert types.count("Conv1D") == 2 and types.count("Dropout") == 1
    recurrent = next(layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional))
    assert type(recurrent.forward_layer).__name__ == cell.upper()
    assert recurrent.output.shape == (None, 7, 12)  # 6 units each way, the whole sequence
    attention = next(layer for layer in model.layers if isinstance(layer, keras.layers.MultiHeadAttention))
    assert attention.num_heads == heads
    assert attention.key_dim == max(1, 12 // heads)  # more heads than width: key_dim 1, not 0
    assert types.count("LayerNormalization") == 2
    assert ("GlobalMaxPooling1D" if pooling == "max" else "GlobalAveragePooling1D") in types
    ids = np.array([[2, 3, 4, 0, 0, 0, 0], [49, 1, 1, 1, 1, 1, 1]], dtype=np.int32)
    out = model.predict(ids, verbose=0)
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_describe() -> None:
    sample = arch(
        embedding_dim=64,
        conv_blocks=1,
        filters_0=64,
        kernel_0=5,
        recurrent_layers=1,
        recurrent_cell="gru",
        recurrent_units=32,
        transformer_blocks=1,
        heads=2,
        dense_units=64,
        dropout=0.25,
    )
    assert describe_text(sample) == "e64 c64k5 bigru32 tf2h gmax d64 | relu do0.25"
    assert describe_text(arch(pooling="avg", activation="gelu")) == "e8 gavg | gelu"


@pytest.mark.parametrize(
    "overrides",
    [
        {"conv_blocks": 1, "filters_0": 16, "kernel_0": 3, "pooling": "avg"},
        {"recurrent_layers": 1, "recurrent_cell": "gru", "recurrent_units": 8, "transformer_blocks": 1, "heads": 2},
    ],
    ids=["conv", "recurrent+transformer"],
)
@pytest.mark.slow
def test_a_candidate_learns_a_toy_corpus(overrides: dict) -> None:
    keras.utils.set_random_seed(0)
    train_texts, train_labels = toy_corpus(48, seed=0)
    test_texts, test_labels = toy_corpus(24, seed=1)  # other sentences of the same words
    features = fit_vocabulary(train_texts, max_tokens=100, sequence_length=6)
    model = build_text_model(
        arch(vocabulary_size=features.vocabulary_size, embedding_dim=16) | overrides, (features.sequence_length,), 2
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(vectorize(features, train_texts), train_labels, epochs=15, batch_size=16, verbose=0)
    _, accuracy = model.evaluate(vectorize(features, test_texts), test_labels, verbose=0)
    assert accuracy > 0.8  # chance is 0.5
