"""Texts as token ids: a vocabulary fitted once on the training texts, applied the same way in numpy and in Keras.

The prepare stage fits `TextFeatures` on the train split (`fit_vocabulary`) and `vectorize`s every
split into an int32 matrix of token ids, so candidates train on plain integers and no candidate
re-tokenizes the corpus. The exported model gets the very same Keras `TextVectorization` prepended
by `with_raw_text_input`, so it takes raw strings and nobody re-implements the tokenizer at serving.

The vectorization: lower case, punctuation stripped, split on whitespace; each text becomes exactly
`sequence_length` ids, cut after that many tokens or padded at the end with id 0. Id 1 is any
token outside the vocabulary, ids 2.. are the vocabulary's tokens, most frequent first (ties in
reverse order of the token, as Keras breaks them), so the ids never depend on the order of the training texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nas_core.errors import NasError

if TYPE_CHECKING:  # types only: reading a manifest's features must not load TensorFlow
    import keras

STANDARDIZE = "lower_and_strip_punctuation"
SPLIT = "whitespace"
# What `TextVectorization.get_vocabulary()` puts first: the padding token (id 0) and the OOV token (id 1).
SPECIAL_TOKENS = ("", "[UNK]")
PADDING_ID, OOV_ID = 0, 1
# Texts per call to the vectorizer: one call per text would take minutes on 40,000 tweets, one call
# for all of them holds every intermediate string tensor at once.
BATCH_SIZE = 8192


@dataclass(frozen=True)
class TextFeatures:
    """Everything needed to turn texts into the same token ids everywhere: stored in the prepared manifest.

    `vocabulary` is `TextVectorization.get_vocabulary()` as it is: `("", "[UNK]", most frequent, ...)`,
    so token id i is `vocabulary[i]`.
    """

    vocabulary: tuple[str, ...]
    sequence_length: int

    def __post_init__(self) -> None:
        # A vocabulary without the special tokens in front would shift every id by two, silently.
        if tuple(self.vocabulary[:2]) != SPECIAL_TOKENS:
            raise NasError(f"data: a text vocabulary must start with {list(SPECIAL_TOKENS)} (padding and OOV)")
        if len(self.vocabulary) <= len(SPECIAL_TOKENS):
            raise NasError("data: the text vocabulary has no tokens; the training texts hold no words")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise NasError("data: the text vocabulary holds a repeated token")
        if self.sequence_length < 1:
            raise NasError(f"data: sequence_length must be at least 1, got {self.sequence_length}")

    @property
    def vocabulary_size(self) -> int:
        """The number of token ids, padding (0) and OOV (1) included: the input dimension of an Embedding."""
        return len(self.vocabulary)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the manifest's "features")."""
        return {"vocabulary": list(self.vocabulary), "sequence_length": self.sequence_length}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextFeatures:
        return cls(tuple(str(token) for token in data["vocabulary"]), int(data["sequence_length"]))


def _as_texts(texts: np.ndarray) -> np.ndarray:
    """Texts as a 1-D array of str; a column of shape (n, 1), as the exported model takes them, is accepted."""
    values = np.asarray(texts)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise NasError(f"data: texts have shape {values.shape}, expected one text per row")
    if values.dtype.kind == "O":
        values = np.array([v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in values])
    return values.astype(str)


def _vectorizer(features: TextFeatures, name: str | None = None) -> keras.layers.TextVectorization:
    """The Keras layer that maps strings to the ids of `features`: the same one in `vectorize` and in the export."""
    import keras

    return keras.layers.TextVectorization(
        standardize=STANDARDIZE,
        split=SPLIT,
        output_mode="int",
        output_sequence_length=features.sequence_length,
        vocabulary=list(features.vocabulary),
        name=name,
    )


def fit_vocabulary(texts: np.ndarray, max_tokens: int, sequence_length: int) -> TextFeatures:
    """Fit the vocabulary on the TRAINING texts only, so validation and test texts stay unseen.

    Keeps the `max_tokens - 2` most frequent tokens (`max_tokens` counts padding and OOV, as Keras
    does), so `vocabulary_size <= max_tokens`. Texts with no word at all are an error: every
    candidate would see nothing but OOV.
    """
    import keras

    if max_tokens <= len(SPECIAL_TOKENS):
        raise NasError(f"data: max_tokens must be more than {len(SPECIAL_TOKENS)} (padding and OOV), got {max_tokens}")
    values = _as_texts(texts)
    if not len(values):
        raise NasError("data: no training texts to build a vocabulary from")
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=STANDARDIZE, split=SPLIT, output_sequence_length=sequence_length
    )
    layer.adapt(values, batch_size=BATCH_SIZE)
    # get_vocabulary() gives numpy strings; plain str keeps the manifest JSON-ready and comparisons simple.
    return TextFeatures(tuple(str(token) for token in layer.get_vocabulary()), int(sequence_length))


def vectorize(features: TextFeatures, texts: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The int32 token ids (n, `features.sequence_length`) that candidates train on, `batch_size` texts at a time.

    `texts` is (n,) or (n, 1) of str (or objects that are str or bytes).
    """
    values = _as_texts(texts)
    out = np.zeros((len(values), features.sequence_length), dtype=np.int32)
    if not len(values):
        return out
    layer = _vectorizer(features)
    for start in range(0, len(values), batch_size):
        out[start : start + batch_size] = np.asarray(layer(values[start : start + batch_size]))
    return out


def with_raw_text_input(model: keras.Model, features: TextFeatures) -> keras.Model:
    """`model` (which takes token ids) behind the vectorization, so the exported model takes raw strings.

    One string input named "text" of shape (1,): feed a numpy array of str shaped (n, 1). Calling the
    model, or `predict_on_batch`, also takes an (n,) array; `model.predict` rejects numpy string
    arrays in Keras 3 ("Invalid dtype"), so use `predict_texts`, or pass a `tf.constant`. Built
    from Keras layers only (the vocabulary is saved with the layer), so `keras.saving.load_model`
    reads it back in safe mode with no custom objects.
    """
    import keras

    text = keras.Input(shape=(1,), dtype="string", name="text")
    # Token ids come out int64; the functional `model` casts them to its int32 input.
    ids = _vectorizer(features, name="text-vectorization")(text)
    return keras.Model(text, model(ids), name=f"{model.name}-raw-text")


def predict_texts(model: keras.Model, texts: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities of a `with_raw_text_input` model for texts (n,) or (n, 1), batch by batch.

    `model.predict` rejects numpy string arrays in Keras 3, while `predict_on_batch` accepts them;
    this keeps the memory of `predict`.
    """
    values = _as_texts(texts)[:, None]
    batches = [
        np.asarray(model.predict_on_batch(values[start : start + batch_size]))
        for start in range(0, len(values), batch_size)
    ]
    return np.concatenate(batches) if batches else np.zeros((0, *model.output_shape[1:]), dtype=np.float32)
