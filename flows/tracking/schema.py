"""The names under which a search is stored in MLflow: tags, values and artifact names, in one place.

Everything that writes or reads these (the tracker, resume, the champion, reading a search back)
uses these constants, so a name changes in one line.
"""

from __future__ import annotations

# MLflow's own tags.
PARENT_TAG = "mlflow.parentRunId"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"  # the entry point: flows.search, flows.retrain, `nas run` (the UI's Source)
SOURCE_TYPE_TAG = "mlflow.source.type"  # one of MLflow's SourceType names; ours are always LOCAL
SOURCE_TYPE_LOCAL = "LOCAL"
# MLflow 3's experiment kind, "Machine learning" rather than GenAI. MLflow 3.17's UI still picks the experiment's
# landing page from its GenAI / Model training switch (docs/operations/mlflow.md#open-the-training-runs).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"

# What a run is: KIND_TAG takes one of the KIND_* values.
KIND_TAG = "nas.kind"
KIND_SEARCH = "search"
KIND_CANDIDATE = "candidate"
KIND_RETRAIN = "retrain"
KIND_NIGHT = "night"  # a nightly run that failed or crashed (flows/tracking/night_failure.py)

# A search's parent run.
STRATEGY_TAG = "nas.strategy"
DATASET_HASH_TAG = "nas.dataset_hash"
DATA_DVC_MD5_TAG = "nas.data_dvc_md5"  # DVC's md5 of data/prepared: the version `dvc.lock` names
TRIGGER_TAG = "nas.trigger"  # manual | scheduled
RESUME_TAG = "nas.resume_key"  # the same search (space, data, strategy, seed) on every run of it
OWNER_TAG = "nas.owner"  # host and pid of the process running the search
HEARTBEAT_TAG = "nas.heartbeat"  # refreshed while the search runs, so another host can tell it is alive
HISTORY_TAG = "nas.history_key"  # the same data, space and scoring: searches that warm-start each other
SEARCH_SEED_TAG = "nas.search_seed"  # the seed the strategy really used (fresh each warm-started night)
WARM_START_TAG = "nas.warm_start"  # off | history | transfer: what this search started from
WARM_START_ARTIFACT = "warm_start.json"  # the earlier runs this search was told about
OBJECTIVE_TAG = "nas.objective"  # search.objective: what the candidates were scored by
DVC_EXPERIMENT_TAG = "nas.dvc_experiment"  # the `dvc exp run` experiment whose stage ran the search

# A candidate's child run.
CANDIDATE_HASH_TAG = "nas.candidate_hash"
CANDIDATE_INDEX_TAG = "nas.candidate_index"
STATUS_TAG = "nas.status"  # COMPLETED | FAILED
ERROR_TAG = "nas.error"
SAMPLE_TAG = "nas.sample"  # the strategy's proposal as JSON, read back when a killed search resumes
SAMPLE_ARTIFACT = "sample.json"  # where a sample too long for a tag goes instead
SAMPLE_TAG_LIMIT = 7000  # MLflow keeps tag values up to 8000 characters
RUNG_TAG = "nas.rung"  # successive halving / Hyperband: the last rung the candidate reached
STOPPED_EARLY_TAG = "nas.stopped_early"
ONESHOT_SCORE_TAG = "nas.oneshot_score"  # one-shot: the score the path had with inherited weights
DERIVED_BY_TAG = "nas.derived_by"  # DARTS: the architecture came from the supernet's weights
# Copied from the search's parent run onto each candidate: to compare candidates across searches, and
# so the UI's runs table fills in Source and Version for candidates too.
SEARCH_CONTEXT_TAGS = (STRATEGY_TAG, SEARCH_SEED_TAG, DATASET_HASH_TAG, DATA_DVC_MD5_TAG, OBJECTIVE_TAG)
CANDIDATE_CONTEXT_TAGS = (*SEARCH_CONTEXT_TAGS, SOURCE_NAME_TAG, SOURCE_TYPE_TAG, GIT_COMMIT_TAG)

# A search's parent run: artifacts.
SPACE_ARTIFACT = "search_space.json"  # the space stage's record (flows/space.py)

# A failed night's run.
FLOW_RUN_ID_TAG = "nas.flow_run_id"  # the Prefect flow run, to find its logs
PREFECT_STATE_TAG = "nas.prefect_state"  # Failed | Crashed, as Prefect named the flow run's final state
ERROR_TAG_LIMIT = 5000  # of nas.error; MLflow keeps tag values up to 8000 characters

# The retrain run.
CHAMPION_TAG = "nas.champion"
