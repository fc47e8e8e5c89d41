"""Tree-structured Parzen estimator through Optuna's TPESampler (Bergstra et al. 2011; Watanabe 2023).

Optuna owns the model; this module only translates. Each `ask` is an Optuna `study.ask()` whose
trial suggests the space's dimensions define-by-run, parents first, so a dimension that a
condition turns off (the filters of a block the network does not have) is never suggested and
never blurs the density of the models that do have it. `tell` finishes that trial.

Results that did not come from our own trials (an earlier search's history, a resumed search's
replay, architectures handed over from another search) enter the study as finished trials with
`study.add_trial`, so the sampler models them like its own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nas_core.errors import NasError
from nas_core.space import Dimension, Sample, SearchSpace, sample_key
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register

if TYPE_CHECKING:
    import optuna


def parents_first(space: SearchSpace) -> list[Dimension]:
    """The dimensions in space order, except that a condition's parent always comes before its child."""
    placed: list[Dimension] = []
    names: set[str] = set()
    waiting = list(space.dimensions)
    while waiting:
        for dim in waiting:
            if all(c.parent in names for c in space.conditions if c.dimension == dim.name):
                placed.append(dim)
                names.add(dim.name)
                waiting.remove(dim)
                break
        else:
            raise NasError(f"space: conditions form a cycle among {', '.join(d.name for d in waiting)}")
    return placed


@register("tpe")
class TreeParzen(Strategy):
    """Optuna's TPE over the space's categorical choices, driven through Optuna's ask/tell.

    Options (params.yaml `search.strategy_options`):
      n_startup_trials: random samples before the model takes over (history counts towards them).
      n_ei_candidates: samples drawn from the good-model density; the best of them by l(x)/g(x) is proposed.
      multivariate: model the choices jointly (Optuna's multivariate TPE) rather than one by one.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool = False,
    ) -> None:
        super().__init__(space, seed)
        if n_startup_trials < 0 or n_ei_candidates < 1:
            raise NasError(
                "search.strategy_options: n_startup_trials must be at least 0 and n_ei_candidates at least 1"
            )
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial otherwise
        self._optuna = optuna
        with warnings.catch_warnings():  # `group` is marked experimental; it is what conditional spaces need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=n_startup_trials,
                n_ei_candidates=n_ei_candidates,
                multivariate=multivariate,
                group=multivariate and bool(space.conditions),
            )
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.order = parents_first(space)
        # Choices are suggested by index: Optuna's categorical values must be plain scalars, ours need not be.
        self.distributions = {
            d.name: optuna.distributions.CategoricalDistribution(tuple(range(len(d.choices)))) for d in space.dimensions
        }
        self.pending: dict[str, list[int]] = {}  # key -> numbers of our trials asked and not yet told
        self.told: set[str] = set()  # keys the study has a finished, scored trial for

    def ask(self, n: int = 1) -> list[Sample]:
        return [self._propose() for _ in range(n)]

    def _propose(self) -> Sample:
        trial = self.study.ask()
        sample: Sample = {}
        for dim in self.order:
            if self.space.is_active(dim.name, sample):
                index = trial.suggest_categorical(dim.name, self.distributions[dim.name].choices)
                sample[dim.name] = dim.choices[int(index)]  # type: ignore[arg-type]  # our choices are ints
        self.pending.setdefault(self._key(sample), []).append(trial.number)
        return self.space.complete(sample)

    def tell(self, sample: Sample, score: float | None) -> None:
        """Finish the trial that proposed `sample`, or add it as a trial of its own if none did.

        A score that is None or not finite finishes the trial as FAIL, which TPE leaves out of
        its model (through `make_strategy` a failure arrives as the worst score seen instead).

        On a small categorical space TPE keeps proposing architectures it already knows, and
        `Deduplicated` answers each repeat from its cache. Counting the repeat again, or leaving it
        out as FAIL, leaves the model as it was, so TPE asks for the same one again until the
        deduplicator gives up: the search ran dry within a few dozen queries on the tabular benchmark.
        A repeat is therefore PRUNED (Optuna's FAQ answer to duplicate parameters): TPE ranks a
        pruned trial with no intermediate values below every complete one, so it moves on.
        """
        key = self._key(sample)
        value = None if score is None or not math.isfinite(score) else float(score)
        state = self._optuna.trial.TrialState
        numbers = self.pending.get(key)
        if numbers:
            number = numbers.pop(0)
            if value is None:
                self.study.tell(number, state=state.FAIL)
            elif key in self.told:
                self.study.tell(number, state=state.PRUNED)
            else:
                self.study.tell(number, value)
                self.told.add(key)
            return
        if value is None or key in self.told:
            return
        self.study.add_trial(
            self._optuna.trial.create_trial(
                params=self._params(sample), distributions=self._distributions(sample), value=value
            )
        )
        self.told.add(key)

    def prime(self, samples: Sequence[Sample]) -> list[Sample]:
        """Handed-over architectures go first; their results join the study through `tell`."""
        return list(samples)

    def _key(self, sample: Sample) -> str:
        return sample_key(self.space.canonical(sample))

    def _params(self, sample: Sample) -> dict[str, Any]:
        canonical = self.space.canonical(sample)
        return {name: self.space.dimension(name).index(value) for name, value in canonical.items()}

    def _distributions(self, sample: Sample) -> dict[str, optuna.distributions.BaseDistribution]:
        return {name: self.distributions[name] for name in self.space.canonical(sample)}
