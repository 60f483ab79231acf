"""The promotion policy: when does the ``challenger`` deserve to become ``champion``.

* Champion and challenger are scored on the same holdout: for walk-forward tasks the most recent
  window neither of them trained on (the later of their two holdout starts), else the challenger's
  holdout (same groups / same stable row hash), cut from the latest version of the challenger's
  dataset, with point-in-time features (``scoreline.ml.training.evaluate_bundle``). A champion
  registered by hand, without holdout tags, is compared on the challenger's holdout.
* The decision itself is :func:`judge`, a pure function of the gathered :class:`Evidence`.
* With a champion: promote when the challenger's primary metric is better by at least ``margin``
  (relative: 0.001 = 0.1 %) and, in its own training run, it is not worse than the baseline
  (``policy.baseline``: a baseline name, or ``best`` = the run's strongest baseline).
* Without a champion: promote the first model when it beats that baseline in its run.
* Manual mode: a positive decision is recorded as ``pending_approval`` and waits for ``approve``.
* ``rollback`` points ``champion`` back at the version it replaced.
* Idempotent: a challenger that was already promoted or rejected is not decided again
  (``unchanged``), so retries (Airflow) never promote twice.

Every decision leaves ``promotion.*`` tags on the versions involved (decision, reason, metrics
compared, when, by whom); ``history`` reads them back.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.lifecycle.registry import (
    CHALLENGER,
    CHAMPION,
    TAG_DATASET,
    TAG_DATASET_VERSION,
    TAG_HOLDOUT,
    TAG_HOLDOUT_START,
    TAG_RUN_ID,
    TAG_TASK,
    Registry,
    load_bundle,
    model_uri_for,
)
from scoreline.tasks import get_task

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from scoreline.ml.modeling import ModelBundle

Mode = Literal["auto", "manual"]
Outcome = Literal["promoted", "rejected", "pending_approval", "unchanged", "rolled_back"]

TAG_DECISION = "promotion.decision"
TAG_REASON = "promotion.reason"
TAG_DECIDED_AT = "promotion.decided_at"
TAG_DECIDED_BY = "promotion.decided_by"
TAG_MODE = "promotion.mode"
TAG_METRICS = "promotion.metrics"  # JSON: what was compared, on which window
TAG_COMPARED_WITH = "promotion.compared_with"  # champion version at decision time ("" = none)
TAG_PREVIOUS_CHAMPION = "promotion.previous_champion"  # set when promoted: what rollback restores
TAG_APPROVED_AT = "promotion.approved_at"
TAG_APPROVED_BY = "promotion.approved_by"
TAG_REPLACED_AT = "promotion.replaced_at"
TAG_REPLACED_BY = "promotion.replaced_by_version"
TAG_ROLLED_BACK_AT = "promotion.rolled_back_at"
TAG_ROLLED_BACK_BY = "promotion.rolled_back_by"
TAG_RESTORED_AT = "promotion.restored_at"
TAG_RESTORED_BY = "promotion.restored_by"

FINAL_DECISIONS = ("promoted", "rejected")
REGISTRATION_TAGS = (TAG_TASK, TAG_DATASET, TAG_DATASET_VERSION, TAG_RUN_ID)  # written by the trainer only


def serving_refusal(task_id: str, tags: Mapping[str, str]) -> str | None:
    """Why a version must not be served as ``task_id``'s champion, or None when it may.

    A champion is served only when its version carries the tags the trainer writes at registration
    (for this task) and passed promotion (``promoted`` by a decision, an approval or a rollback). A
    version registered or aliased by hand in MLflow is refused; an admin may still serve it on purpose
    (model-api's ``POST /v1/admin/reload?serve_unpromoted=true``)."""
    missing = [tag for tag in REGISTRATION_TAGS if not tags.get(tag)]
    if missing:
        return (
            f"it lacks Scoreline's registration tags ({', '.join(missing)}): it was not registered by the trainer; "
            "expected a version trained and promoted by Scoreline"
        )
    if tags[TAG_TASK] != task_id:
        return f"it was registered for task {tags[TAG_TASK][:60]!r}; expected {task_id!r}"
    if tags.get(TAG_DECISION) != "promoted":
        return (
            f"it did not pass promotion (decision: {tags.get(TAG_DECISION) or 'none'}); "
            "expected a version promoted by a decision, an approval or a rollback"
        )
    return None


def retrain_reason(
    task_id: str,
    dataset: str,
    dataset_version: str,
    champion_tags: Mapping[str, str] | None,
    challenger_tags: Mapping[str, str] | None = None,
) -> str | None:
    """Why a bootstrap (``make run``) must train ``task_id`` on ``dataset@dataset_version`` again, or None when
    nothing changed: the champion is servable and was trained on that very version, or the latest challenger
    was trained on it and already decided (rejected models are not retrained on the same data either)."""

    def on_this_data(tags: Mapping[str, str]) -> bool:
        return tags.get(TAG_DATASET) == dataset and tags.get(TAG_DATASET_VERSION) == dataset_version

    if challenger_tags and on_this_data(challenger_tags) and challenger_tags.get(TAG_DECISION) in FINAL_DECISIONS:
        return None  # trained on this very data and judged: training again would only repeat it
    if champion_tags is None:
        return "no champion yet"
    why = serving_refusal(task_id, champion_tags)
    if why is not None:
        return f"the champion is not servable: {why}"
    if not on_this_data(champion_tags):
        was = f"{champion_tags.get(TAG_DATASET)}@{champion_tags.get(TAG_DATASET_VERSION)}"
        return f"the champion was trained on {was}, the data is now {dataset}@{dataset_version}"
    return None


# (version of the dataset, canonical table) for the latest version of a task's dataset.
LatestDataset = Callable[[str, str], tuple[str, pd.DataFrame]]
Evaluate = Callable[["ModelBundle", pd.DataFrame, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class PromotionPolicy:
    margin: float = 0.001  # minimum relative improvement of the primary metric over the champion
    mode: Mode = "auto"
    baseline: str = "best"  # the baseline a model must not be worse than: a name, or the run's strongest
    # Approval thresholds on the challenger's own holdout: {"smape": 12.0} = at most 12 (lower-is-better metrics),
    # {"roc_auc": 0.8} = at least 0.8 (greater-is-better). A model that misses one is rejected whatever else.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # Baselines reported for comparison that "best" does not gate on: the betting market (match-outcome's
    # bookmaker baseline) is the bar users judge a model by, not one it must clear to be served.
    reference_baselines: tuple[str, ...] = ("bookmaker",)

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"promotion margin must be a relative improvement in [0, 1), got {self.margin}",
                {"field": "margin", "value": self.margin},
            )
        if self.mode not in ("auto", "manual"):
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"promotion mode must be 'auto' or 'manual', got {self.mode!r}",
                {"field": "mode", "value": self.mode},
            )


@dataclass
class Decision:
    task: str
    decision: Outcome
    reason: str
    challenger_version: str | None
    champion_version: str | None  # the champion after this decision
    previous_champion_version: str | None = None  # the champion before it
    primary_metric: str | None = None
    greater_is_better: bool | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    mode: Mode = "auto"
    margin: float | None = None
    decided_at: str = ""
    decided_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    """Everything a promotion decision depends on, gathered from MLflow and the data beforehand."""

    primary_metric: str
    greater_is_better: bool
    challenger_version: str
    challenger_run_score: float | None  # the primary metric on the challenger's own run holdout
    baseline: tuple[str, float] | None = None  # (name, primary metric) in the challenger's run
    run_metrics: dict[str, float] = field(default_factory=dict)  # the challenger run's holdout_<metric> values
    greater_is_better_by_metric: dict[str, bool] = field(default_factory=dict)  # direction of each task metric
    champion_version: str | None = None  # None: there is no champion yet
    window: dict[str, Any] = field(default_factory=dict)  # where both versions were re-scored
    challenger_scores: dict[str, float] = field(default_factory=dict)  # re-scored on ``window``
    champion_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    compared: dict[str, Any]


def judge(evidence: Evidence, policy: PromotionPolicy) -> Verdict:
    """The promotion policy as a pure function of the evidence (see the module docstring)."""
    primary, gib = evidence.primary_metric, evidence.greater_is_better
    own, baseline = evidence.challenger_run_score, evidence.baseline
    if own is None:
        raise ScorelineError(
            ErrorCode.CONFLICT,
            f"the run of version {evidence.challenger_version} has no metric holdout_{primary}; it cannot be judged",
        )
    compared: dict[str, Any] = {"challenger": {"version": evidence.challenger_version, f"run_holdout_{primary}": own}}
    if baseline is not None:
        compared["baseline"] = {"name": baseline[0], primary: baseline[1], "on": "the challenger's run holdout"}
    # The baseline is compared inside the challenger's own run: same window, same data.
    versus_baseline = _better(own, baseline[1], gib) if baseline else 0.0
    baseline_text = f"{baseline[0]} baseline {primary} {baseline[1]:.5f}" if baseline else "no baseline"
    run_text = f"{primary} {own:.5f} on its holdout"
    outcome: Outcome
    if evidence.champion_version is None:
        if baseline is None or versus_baseline > 0:
            outcome, reason = "promoted", f"first model: {run_text} beats the {baseline_text}"
        else:
            outcome, reason = "rejected", f"first model: {run_text} does not beat the {baseline_text}"
    else:
        compared["window"] = evidence.window
        compared["challenger"].update(evidence.challenger_scores)
        compared["champion"] = {"version": evidence.champion_version, **evidence.champion_scores}
        ours, theirs = float(evidence.challenger_scores[primary]), float(evidence.champion_scores[primary])
        gain = _better(ours, theirs, gib) / max(abs(theirs), 1e-12)
        compared["relative_improvement"] = gain
        where = evidence.window.get("holdout_start") or evidence.window.get("holdout", "the common holdout")
        versus = (
            f"{primary} {ours:.5f} vs champion v{evidence.champion_version} {theirs:.5f} ({gain:+.3%}) from {where}"
        )
        if gain < policy.margin:
            outcome, reason = "rejected", f"{versus}: improvement below the margin {policy.margin:.3%}"
        elif versus_baseline < 0:
            outcome, reason = "rejected", f"{versus}, but {run_text} is worse than the {baseline_text}"
        else:
            outcome = "promoted"
            reason = f"{versus} clears the margin {policy.margin:.3%}; not worse than the {baseline_text}"
    missed = _missed_thresholds(evidence, policy)
    if policy.thresholds:
        compared["thresholds"] = {"required": dict(policy.thresholds), "missed": missed}
    if outcome == "promoted" and missed:
        outcome, reason = "rejected", f"{reason}, but it misses the approval threshold(s): {'; '.join(missed)}"
    if outcome == "promoted" and policy.mode == "manual":
        outcome, reason = "pending_approval", f"{reason}; manual mode: waiting for approval"
    return Verdict(outcome, reason, compared)


def _missed_thresholds(evidence: Evidence, policy: PromotionPolicy) -> list[str]:
    missed = []
    for metric, bound in policy.thresholds.items():
        value = evidence.run_metrics.get(metric)
        greater = evidence.greater_is_better_by_metric.get(metric, False)
        if value is None:
            missed.append(f"{metric} was not measured")
        elif (value < bound) if greater else (value > bound):
            missed.append(f"{metric} {value:.5g} {'<' if greater else '>'} {bound:g}")
    return missed


def holdout_of(tags: Mapping[str, str]) -> dict[str, Any] | None:
    """The holdout a version was scored on, from its tags (None for versions registered outside Scoreline)."""
    if tags.get(TAG_HOLDOUT):
        try:
            spec = json.loads(tags[TAG_HOLDOUT])
        except ValueError:
            spec = None
        if isinstance(spec, dict) and spec.get("strategy"):
            return spec
    if tags.get(TAG_HOLDOUT_START):
        return {"strategy": "walk_forward", "start": tags[TAG_HOLDOUT_START][:10]}
    return None


def common_holdout(challenger_tags: Mapping[str, str], champion_tags: Mapping[str, str]) -> dict[str, Any]:
    """One holdout neither version trained on: the later of two walk-forward starts, else the challenger's.

    A champion registered by hand (no holdout tags) is compared on the challenger's holdout."""
    ours, theirs = holdout_of(challenger_tags), holdout_of(champion_tags)
    if ours is None:
        raise ScorelineError(
            ErrorCode.CONFLICT,
            "the challenger has no holdout tags; it was not registered by the trainer and cannot be judged",
        )
    if theirs is None or theirs.get("strategy") != ours.get("strategy"):
        return ours
    if ours["strategy"] == "walk_forward":
        return {**ours, "start": max(ours["start"], theirs["start"])}
    if ours["strategy"] == "group":
        return {**ours, "first_group": max(ours["first_group"], theirs["first_group"], key=_group_sort_key)}
    return ours


def _group_sort_key(value: Any) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


def _window_text(holdout: Mapping[str, Any]) -> dict[str, Any]:
    if holdout.get("strategy") == "walk_forward":
        return {"holdout_start": holdout["start"], "holdout": dict(holdout)}
    return {"holdout": dict(holdout)}


_task_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _task_lock(task_id: str) -> threading.Lock:
    """Decisions of one task never interleave within a process (the trainer serves them concurrently)."""
    with _locks_guard:
        return _task_locks.setdefault(task_id, threading.Lock())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _baseline(
    metrics: dict[str, float], primary: str, greater_is_better: bool, which: str, reference: tuple[str, ...] = ()
) -> tuple[str, float] | None:
    """The baseline's score on the primary metric from the run's ``baseline_<b>_<metric>`` keys.

    ``which`` is a baseline name, or ``best`` for the strongest baseline of the run other than ``reference``.
    """
    suffix = f"_{primary}"
    scores = {
        key.removeprefix("baseline_").removesuffix(suffix): value
        for key, value in metrics.items()
        if key.startswith("baseline_") and key.endswith(suffix)
    }
    if not scores:
        return None
    if which != "best":
        if which not in scores:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"the run has no baseline {which!r}; expected one of {sorted(scores)} or 'best'",
                {"field": "baseline", "value": which},
            )
        return which, float(scores[which])
    scores = {b: v for b, v in scores.items() if b not in reference}
    if not scores:
        return None
    name = (max if greater_is_better else min)(scores, key=lambda b: scores[b])
    return name, float(scores[name])


def _better(a: float, b: float, greater_is_better: bool) -> float:
    """How much better ``a`` is than ``b`` (positive = better), in the metric's units."""
    return a - b if greater_is_better else b - a


class Promoter:
    """Applies the policy to one MLflow registry; the datasets and the evaluator are injected."""

    def __init__(
        self,
        registry: Registry,
        latest_dataset: LatestDataset,
        *,
        evaluate: Evaluate | None = None,
        load: Callable[[str], ModelBundle] | None = None,
    ) -> None:
        self.registry = registry
        self.latest_dataset = latest_dataset
        self._evaluate = evaluate
        self._load = load or (lambda uri: load_bundle(uri, tracking_uri=registry.tracking_uri))

    def evaluate(self, bundle: ModelBundle, canonical: pd.DataFrame, holdout: Mapping[str, Any]) -> dict[str, Any]:
        if self._evaluate is not None:
            return self._evaluate(bundle, canonical, holdout)
        from scoreline.ml.training import evaluate_bundle

        return evaluate_bundle(bundle, canonical, holdout)

    # ---- decide --------------------------------------------------------------------------------
    def decide(self, task_id: str, policy: PromotionPolicy, actor: str) -> Decision:
        task = get_task(task_id)
        with _task_lock(task_id):
            challenger = self.registry.version_by_alias(task_id, CHALLENGER)
            champion = self.registry.version_by_alias(task_id, CHAMPION)
            champion_v = champion.version if champion else None
            ignored = ""
            if champion is not None and (why := serving_refusal(task_id, champion.tags)) is not None:
                # A champion moved by hand (no Scoreline tags, never promoted) is not served, so it is
                # not the bar either: the challenger is judged as a first model.
                ignored = f" (the champion alias points at version {champion.version}, which was ignored: {why})"
                champion = None
            base = Decision(
                task=task_id,
                decision="unchanged",
                reason="",
                challenger_version=challenger.version if challenger else None,
                champion_version=champion_v,
                previous_champion_version=champion_v,
                primary_metric=task.primary.name,
                greater_is_better=task.primary.greater_is_better,
                mode=policy.mode,
                margin=policy.margin,
                decided_at=_now(),
                decided_by=actor,
            )
            if challenger is None:
                base.reason = f"no version of scoreline-{task_id} carries the '{CHALLENGER}' alias; train one first"
                return base
            if champion is not None and champion.version == challenger.version:
                base.reason = f"version {challenger.version} is already the champion"
                return base
            earlier = challenger.tags.get(TAG_DECISION)
            if earlier in FINAL_DECISIONS:
                when = challenger.tags.get(TAG_DECIDED_AT, "?")
                base.reason = f"version {challenger.version} was already {earlier} at {when}; not deciding it again"
                base.metrics = json.loads(challenger.tags.get(TAG_METRICS, "{}"))
                return base
            if earlier == "pending_approval" and policy.mode == "manual":
                since = challenger.tags.get(TAG_DECIDED_AT, "?")
                base.reason = f"version {challenger.version} has been waiting for approval since {since}"
                base.decision = "pending_approval"
                base.metrics = json.loads(challenger.tags.get(TAG_METRICS, "{}"))
                return base

            decision = self._evaluate_pair(task_id, challenger, champion, policy, base)
            decision.reason += ignored
            self._record(task_id, challenger, champion, decision)
            return decision

    def _evaluate_pair(
        self,
        task_id: str,
        challenger: ModelVersion,
        champion: ModelVersion | None,
        policy: PromotionPolicy,
        decision: Decision,
    ) -> Decision:
        """Gather the evidence (MLflow run metrics, both versions re-scored on one holdout), then judge it."""
        primary, gib = decision.primary_metric or "", bool(decision.greater_is_better)
        dataset = challenger.tags.get(TAG_DATASET)
        if not dataset:
            raise ScorelineError(
                ErrorCode.CONFLICT,
                f"version {challenger.version} has no '{TAG_DATASET}' tag; it was not registered by the trainer",
            )
        run_metrics = self.registry.run_metrics(challenger.tags.get(TAG_RUN_ID) or challenger.run_id)
        evidence = Evidence(
            primary_metric=primary,
            greater_is_better=gib,
            challenger_version=challenger.version,
            challenger_run_score=run_metrics.get(f"holdout_{primary}"),
            baseline=_baseline(run_metrics, primary, gib, policy.baseline, policy.reference_baselines),
            run_metrics={k.removeprefix("holdout_"): v for k, v in run_metrics.items() if k.startswith("holdout_")},
            greater_is_better_by_metric={m.name: m.greater_is_better for m in get_task(task_id).metrics},
        )
        if champion is not None and evidence.challenger_run_score is not None:
            holdout = common_holdout(challenger.tags, champion.tags)
            dataset_version, canonical = self.latest_dataset(task_id, dataset)
            evidence.champion_version = champion.version
            evidence.window = {"dataset": dataset, "dataset_version": dataset_version, **_window_text(holdout)}
            scores = {
                role: self.evaluate(self._load(model_uri_for(task_id, version=mv.version)), canonical, holdout)
                for role, mv in (("challenger", challenger), ("champion", champion))
            }
            evidence.challenger_scores = _floats(scores["challenger"])
            evidence.champion_scores = _floats(scores["champion"])
        verdict = judge(evidence, policy)
        decision.decision = verdict.outcome
        decision.reason = verdict.reason
        decision.metrics = verdict.compared
        return decision

    def _record(
        self, task_id: str, challenger: ModelVersion, champion: ModelVersion | None, decision: Decision
    ) -> None:
        tags = {
            TAG_DECISION: decision.decision,
            TAG_REASON: decision.reason[:4900],
            TAG_DECIDED_AT: decision.decided_at,
            TAG_DECIDED_BY: decision.decided_by,
            TAG_MODE: decision.mode,
            TAG_METRICS: json.dumps(decision.metrics, sort_keys=True),
            TAG_COMPARED_WITH: champion.version if champion else "",
        }
        if decision.decision == "promoted":
            self._promote(task_id, challenger.version, champion, decision.decided_at, decision.decided_by, tags)
            decision.champion_version = challenger.version
        else:
            self.registry.set_version_tags(task_id, challenger.version, tags)

    def _promote(
        self,
        task_id: str,
        version: str,
        champion: ModelVersion | None,
        when: str,
        actor: str,
        tags: dict[str, str],
    ) -> None:
        # The verdict and what rollback restores are written before the alias moves: model-api serves only a
        # promoted version, and the alias move is what its webhook reloads on. A failed move takes the verdict back.
        previous = champion.version if champion else ""
        self.registry.set_version_tags(task_id, version, {TAG_PREVIOUS_CHAMPION: previous, **tags})
        try:
            self.registry.set_alias(task_id, CHAMPION, version)
        except Exception:
            with contextlib.suppress(Exception):
                self.registry.set_version_tags(task_id, version, {TAG_DECISION: "promotion_failed"})
            raise
        if champion is not None:
            self.registry.set_version_tags(task_id, champion.version, {TAG_REPLACED_AT: when, TAG_REPLACED_BY: version})

    # ---- approve and rollback ------------------------------------------------------------------
    def approve(self, task_id: str, version: str, actor: str) -> Decision:
        with _task_lock(task_id):
            candidate = self.registry.version(task_id, version)
            champion = self.registry.version_by_alias(task_id, CHAMPION)
            champion_v = champion.version if champion else None
            state = candidate.tags.get(TAG_DECISION)
            base = Decision(
                task=task_id,
                decision="unchanged",
                reason="",
                challenger_version=candidate.version,
                champion_version=champion_v,
                previous_champion_version=champion_v,
                metrics=json.loads(candidate.tags.get(TAG_METRICS, "{}")),
                mode="manual",
                decided_at=_now(),
                decided_by=actor,
            )
            if champion_v == candidate.version:
                base.reason = f"version {version} is already the champion"
                return base
            if state != "pending_approval":
                raise ScorelineError(
                    ErrorCode.CONFLICT,
                    f"version {version} is not waiting for approval (its decision is {state or 'none'}); "
                    "run a manual promotion decision first",
                    {"version": version, "decision": state},
                )
            tags = {
                TAG_DECISION: "promoted",
                TAG_REASON: f"approved by {actor}: {candidate.tags.get(TAG_REASON, '')}"[:4900],
                TAG_APPROVED_AT: base.decided_at,
                TAG_APPROVED_BY: actor,
            }
            self._promote(task_id, candidate.version, champion, base.decided_at, actor, tags)
            base.decision = "promoted"
            base.reason = tags[TAG_REASON]
            base.champion_version = candidate.version
            return base

    def rollback(self, task_id: str, actor: str) -> Decision:
        with _task_lock(task_id):
            champion = self.registry.version_by_alias(task_id, CHAMPION)
            if champion is None:
                raise ScorelineError(ErrorCode.CONFLICT, f"scoreline-{task_id} has no champion to roll back")
            previous = champion.tags.get(TAG_PREVIOUS_CHAMPION)
            if not previous:
                raise ScorelineError(
                    ErrorCode.CONFLICT,
                    f"champion version {champion.version} of scoreline-{task_id} replaced no earlier champion; "
                    "there is nothing to roll back to",
                    {"champion_version": champion.version},
                )
            self.registry.version(task_id, previous)  # NOT_FOUND when it was deleted since
            when = _now()
            self.registry.set_alias(task_id, CHAMPION, previous)
            self.registry.set_version_tags(
                task_id, champion.version, {TAG_ROLLED_BACK_AT: when, TAG_ROLLED_BACK_BY: actor}
            )
            self.registry.set_version_tags(task_id, previous, {TAG_RESTORED_AT: when, TAG_RESTORED_BY: actor})
            return Decision(
                task=task_id,
                decision="rolled_back",
                reason=f"champion rolled back from version {champion.version} to version {previous} by {actor}",
                challenger_version=None,
                champion_version=previous,
                previous_champion_version=champion.version,
                decided_at=when,
                decided_by=actor,
            )

    # ---- history -------------------------------------------------------------------------------
    def history(self, task_id: str) -> dict[str, Any]:
        """Aliases now, and every promotion event recorded on the versions, newest first."""
        events: list[dict[str, Any]] = []
        for mv in self.registry.versions(task_id):
            tags = mv.tags
            if TAG_DECIDED_AT in tags:
                events.append(
                    {
                        "event": "decision",
                        "version": mv.version,
                        "decision": tags.get(TAG_DECISION),
                        "reason": tags.get(TAG_REASON),
                        "at": tags[TAG_DECIDED_AT],
                        "by": tags.get(TAG_DECIDED_BY),
                        "mode": tags.get(TAG_MODE),
                        "compared_with": tags.get(TAG_COMPARED_WITH) or None,
                        "metrics": json.loads(tags.get(TAG_METRICS, "{}")),
                    }
                )
            for event, at_key, by_key in (
                ("approved", TAG_APPROVED_AT, TAG_APPROVED_BY),
                ("rolled_back", TAG_ROLLED_BACK_AT, TAG_ROLLED_BACK_BY),
                ("restored", TAG_RESTORED_AT, TAG_RESTORED_BY),
            ):
                if at_key in tags:
                    events.append({"event": event, "version": mv.version, "at": tags[at_key], "by": tags.get(by_key)})
        events.sort(key=lambda e: e["at"], reverse=True)
        return {"task": task_id, "aliases": self.registry.aliases(task_id), "events": events}


def _floats(scores: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}
