"""An RNN controller trained by policy gradient, after Zoph & Le 2017, "Neural Architecture
Search with Reinforcement Learning" (ICLR).

The controller is a small Keras LSTM that emits one choice per dimension, each conditioned on
the choices before it (the previous choice, embedded, is the next step's input). It learns with
REINFORCE (Williams 1992): reward = score, minus a moving-average baseline to cut variance.
With a budget of tens of queries, not thousands, a plain softmax policy collapses onto a few
architectures, and then every proposal is a duplicate. So the policy is a mixture of the softmax
with a uniform floor (`uniform_mix`), trained on-policy through the mixture's own log-probability,
plus a small entropy bonus: every choice keeps a chance of at least `uniform_mix / k`.

Keras is imported inside the class, so importing `nas_core.strategies` stays free of TensorFlow.
Weights come from seeded initializers and choices are drawn with the strategy's numpy RNG, so a
seed fixes the whole sequence without touching Keras's global random state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nas_core.errors import NasError
from nas_core.space import Sample, SearchSpace
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


@register("reinforce")
class Reinforce(Strategy):
    """REINFORCE on an LSTM controller; one update per `batch_size` tells.

    Options (params.yaml `search.strategy_options`):
      hidden_units: LSTM width (and embedding size).
      learning_rate: Adam step size of the controller.
      batch_size: tells per policy-gradient update.
      baseline_decay: weight of the past in the moving-average baseline.
      entropy_weight: bonus for keeping the policy spread out.
      uniform_mix: share of each step's distribution that stays uniform (exploration floor).
      prime_steps: likelihood steps towards architectures handed over by `search.warm_start.from`.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        hidden_units: int = 32,
        learning_rate: float = 0.02,
        batch_size: int = 10,
        baseline_decay: float = 0.8,
        entropy_weight: float = 0.01,
        uniform_mix: float = 0.3,
        prime_steps: int = 20,
    ) -> None:
        super().__init__(space, seed)
        if hidden_units < 1 or batch_size < 1 or learning_rate <= 0:
            raise NasError("search.strategy_options: hidden_units, batch_size and learning_rate must be positive")
        if not 0.0 <= baseline_decay < 1.0 or not 0.0 <= uniform_mix < 1.0:
            raise NasError("search.strategy_options: baseline_decay and uniform_mix must be in [0, 1)")
        self.hidden_units = hidden_units
        self.batch_size = batch_size
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        self.uniform_mix = uniform_mix
        self.prime_steps = prime_steps
        self.sizes = [len(d.choices) for d in space.dimensions]
        # Token 0 starts the sequence; choice c of dimension t is token 1 + offsets[t] + c.
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int)
        self.baseline: float | None = None
        self.buffer: list[tuple[list[int], float]] = []
        self.model = self._build_controller(learning_rate)

    def _build_controller(self, learning_rate: float) -> Any:
        import keras

        def init(k: int) -> Any:
            # Zoph & Le initialise every weight uniformly in [-0.08, 0.08]: a near-uniform first policy.
            return keras.initializers.RandomUniform(-0.08, 0.08, seed=self.seed * 1000 + k)

        steps = len(self.sizes)
        tokens = keras.Input((steps,), dtype="int32")
        self._embedding = keras.layers.Embedding(1 + sum(self.sizes), self.hidden_units, embeddings_initializer=init(0))
        self._lstm = keras.layers.LSTM(
            self.hidden_units, return_sequences=True, kernel_initializer=init(1), recurrent_initializer=init(2)
        )
        self._heads = [keras.layers.Dense(size, kernel_initializer=init(3 + t)) for t, size in enumerate(self.sizes)]
        h = self._lstm(self._embedding(tokens))
        model = keras.Model(tokens, [head(h[:, t, :]) for t, head in enumerate(self._heads)])
        self._weights_cache: list[np.ndarray] | None = None
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(model.trainable_weights)
        self._compile_steps(model, steps)
        return model

    def _compile_steps(self, model: Any, steps: int) -> None:
        """Graph-compile the update: eager steps cost ~0.1 s each, the compiled step a few milliseconds."""
        import keras
        import tensorflow as tf

        def log_policy(logits: Any, t: int) -> Any:
            mixed = (1 - self.uniform_mix) * keras.ops.softmax(logits, axis=-1) + self.uniform_mix / self.sizes[t]
            return keras.ops.log(mixed)

        @tf.function(
            input_signature=[tf.TensorSpec((None, steps), tf.int32)] * 2 + [tf.TensorSpec((None,), tf.float32)]
        )
        def train_step(tokens: Any, actions: Any, advantage: Any) -> None:
            with tf.GradientTape() as tape:
                outputs = model(tokens, training=True)
                log_prob = 0.0
                entropy = 0.0
                for t, logits in enumerate(outputs):
                    log_p = log_policy(logits, t)
                    log_prob += keras.ops.take_along_axis(log_p, actions[:, t : t + 1], axis=1)[:, 0]
                    entropy += -keras.ops.sum(keras.ops.exp(log_p) * log_p, axis=-1)
                loss = -keras.ops.mean(advantage * log_prob) - self.entropy_weight * keras.ops.mean(entropy)
            grads = tape.gradient(loss, model.trainable_weights)
            self.optimizer.apply(grads, model.trainable_weights)

        self._train_step = train_step

    def _inputs(self, actions: np.ndarray) -> np.ndarray:
        """Teacher forcing: step t sees the token of the choice made at step t - 1."""
        tokens = np.zeros(actions.shape, dtype="int32")
        if actions.shape[1] > 1:
            tokens[:, 1:] = 1 + self.offsets[:-1] + actions[:, :-1]
        return tokens

    def step_probabilities(self, sample: Sample) -> list[np.ndarray]:
        """The controller's distribution at each step, given the choices of `sample` before it."""
        outputs = self.model(self._inputs(self._encode(sample)[None, :]), training=False)
        probs = []
        for logits in outputs:
            z = np.exp(np.asarray(logits, dtype=np.float64)[0])
            probs.append((1 - self.uniform_mix) * z / z.sum() + self.uniform_mix / len(z))
        return probs

    def ask(self, n: int = 1) -> list[Sample]:
        if n < 1:
            return []
        return [self._decode(row) for row in self._sample(self.rng.random((n, len(self.sizes))))]

    def _sample(self, uniforms: np.ndarray) -> np.ndarray:
        """Run the controller step by step in numpy, drawing each choice by inverse CDF from `uniforms`.

        Sampling is most of the calls (every proposal the deduplicator rejects is one), and a numpy
        step costs microseconds where a TensorFlow call costs milliseconds; a test checks that it
        matches the Keras model. The LSTM is causal, so this equals the teacher-forced model.
        """
        if self._weights_cache is None:
            self._weights_cache = [np.asarray(w, dtype=np.float64) for w in self.model.get_weights()]
        embedding, kernel, recurrent, bias, *heads = self._weights_cache
        n, units = len(uniforms), self.hidden_units
        h, c = np.zeros((n, units)), np.zeros((n, units))
        token = np.zeros(n, dtype=int)
        actions = np.zeros((n, len(self.sizes)), dtype=int)
        for t, size in enumerate(self.sizes):
            z = embedding[token] @ kernel + h @ recurrent + bias  # Keras gate order: i, f, c, o
            i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            logits = h @ heads[2 * t] + heads[2 * t + 1]
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p = (1 - self.uniform_mix) * p / p.sum(axis=1, keepdims=True) + self.uniform_mix / size
            actions[:, t] = np.minimum((np.cumsum(p, axis=1) < uniforms[:, t : t + 1]).sum(axis=1), size - 1)
            token = 1 + self.offsets[t] + actions[:, t]
        return actions

    def prime(self, samples: Sequence[Sample]) -> list[Sample]:
        """Architectures from another search become the controller's starting distribution.

        A policy-gradient step with advantage 1 is a maximum-likelihood step: `prime_steps` of them
        move probability towards the handed-over choices, while `uniform_mix` keeps every choice
        reachable. Nothing is proposed first: the controller samples from where it now starts.
        """
        if samples:
            actions = np.array([self._encode(s) for s in samples], dtype="int32")
            ones = np.ones(len(actions), dtype="float32")
            for _ in range(self.prime_steps):
                self._train_step(self._inputs(actions), actions, ones)
            self._weights_cache = None
        return []

    def tell(self, sample: Sample, score: float) -> None:
        self.buffer.append((self._encode(sample).tolist(), float(score)))
        if len(self.buffer) >= self.batch_size:
            self._update()
            self.buffer = []

    def _update(self) -> None:
        advantages = []
        for _, reward in self.buffer:
            if self.baseline is None:
                self.baseline = reward
            advantages.append(reward - self.baseline)
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        actions = np.array([a for a, _ in self.buffer], dtype="int32")
        self._train_step(self._inputs(actions), actions, np.array(advantages, dtype="float32"))
        self._weights_cache = None

    def _encode(self, sample: Sample) -> np.ndarray:
        full = self.space.complete(sample)
        return np.array([d.index(full[d.name]) for d in self.space.dimensions], dtype=int)

    def _decode(self, actions: np.ndarray) -> Sample:
        return {d.name: d.choices[int(a)] for d, a in zip(self.space.dimensions, actions, strict=True)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
