"""The pieces of the steps that need no service: the training key and the Slack-compatible summary."""

from __future__ import annotations

from scoreline_dags.steps import job_key, summary_message, tuning_budget


def test_the_same_training_has_the_same_key_and_any_difference_changes_it() -> None:
    key = job_key("match-outcome", "simulated", "abc123", None)

    assert key == job_key("match-outcome", "simulated", "abc123", None)
    assert key.startswith("scoreline_train_job_")
    others = {
        job_key("match-outcome", "simulated", "abc124", None),
        job_key("match-outcome", "other", "abc123", None),
        job_key("match-outcome", "simulated", "abc123", "2024-01-01"),
    }
    assert key not in others and len(others) == 3


def test_tuning_params_make_the_trainers_budget_and_change_the_key() -> None:
    assert tuning_budget(None, 300) is None and tuning_budget(0, 300) is None
    assert tuning_budget(20, None) == {"trials": 20}
    budget = tuning_budget(20, 300)
    assert budget == {"trials": 20, "seconds": 300.0}
    plain = job_key("match-outcome", "simulated", "abc123", None)
    assert job_key("match-outcome", "simulated", "abc123", None, None) == plain
    assert job_key("match-outcome", "simulated", "abc123", None, budget) != plain
    assert job_key("match-outcome", "simulated", "abc123", None, budget) != job_key(
        "match-outcome", "simulated", "abc123", None, tuning_budget(5, 300)
    )


def test_summary_is_slack_compatible_and_carries_the_decision() -> None:
    decision = {
        "decision": "rejected",
        "reason": "rps 0.21 vs champion v2 0.20: improvement below the margin",
        "challenger_version": "3",
        "champion_version": "2",
        "metrics": {"relative_improvement": -0.05},
    }
    facts = {"dataset": "simulated", "dataset_version": "abc123", "decision": decision, "served_version": None}

    message = summary_message("scoreline_train_match_outcome", "manual__1", "match-outcome", facts)

    assert message["text"] == f"Scoreline match-outcome: rejected — {decision['reason']}"
    assert [block["type"] for block in message["blocks"]] == ["header", "section"]
    details = message["blocks"][1]["text"]["text"]
    assert "*challenger* 3" in details and "*champion* 2" in details and "relative_improvement" in details


def test_summary_of_a_failed_run_names_the_failed_steps() -> None:
    facts = {"decision": None, "failed_tasks": ["reload"], "served_version": "2"}

    message = summary_message("scoreline_train_match_outcome", "manual__1", "match-outcome", facts)

    assert message["text"] == "Scoreline match-outcome: FAILED at reload"
