from __future__ import annotations

import copy
import io
import zipfile

import numpy as np
import orjson
import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win import EsportsWinTask
from scoreline.tasks.esports_win.columns import STAT_COLUMNS
from scoreline.tasks.esports_win.simulator import SimulatedGames

TASK = EsportsWinTask()


def _jsonl(documents: list[dict]) -> bytes:
    return b"\n".join(orjson.dumps(d) for d in documents) + b"\n"


def _as_table_ids(canonical: pd.DataFrame) -> pd.DataFrame:
    return canonical.assign(game_id=canonical["game_id"].str.removeprefix("EUW1_"))


def test_timeline_aggregation_equals_simulated_table(games: SimulatedGames, documents: list[dict]) -> None:
    canonical = _as_table_ids(TASK.to_canonical(_jsonl(documents), "games.jsonl"))
    expected = games.table
    assert canonical["game_id"].tolist() == expected["game_id"].tolist()
    np.testing.assert_array_equal(canonical["blue_wins"], expected["blue_wins"])
    for column in STAT_COLUMNS:
        np.testing.assert_allclose(canonical[column], expected[column], err_msg=column)
    assert canonical.attrs["format"] == "riot-match-v5" and canonical.attrs["skipped"] == []


def test_pair_object_and_zip_forms_agree(documents: list[dict]) -> None:
    one = TASK.to_canonical(orjson.dumps(documents[0], option=orjson.OPT_INDENT_2), "game.json")
    assert len(one) == 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for doc in documents[:20]:  # separate match and timeline files, paired by match id
            match_id = doc["match"]["metadata"]["matchId"]
            archive.writestr(f"matches/{match_id}.json", orjson.dumps(doc["match"]))
            archive.writestr(f"timelines/{match_id}_timeline.json", orjson.dumps(doc["timeline"]))
    zipped = TASK.to_canonical(buffer.getvalue(), "games.zip")
    lines = TASK.to_canonical(_jsonl(documents[:20]), "games.jsonl")
    pd.testing.assert_frame_equal(zipped.sort_values("game_id").reset_index(drop=True),
                                  lines.sort_values("game_id").reset_index(drop=True))  # fmt: skip
    pd.testing.assert_frame_equal(one, lines.iloc[:1])


def test_timeline_alone_takes_the_winner_from_game_end(documents: list[dict]) -> None:
    both = TASK.to_canonical(_jsonl(documents[:5]), "games.jsonl")
    alone = TASK.to_canonical(_jsonl([d["timeline"] for d in documents[:5]]), "timelines.jsonl")
    pd.testing.assert_frame_equal(both, alone)


def _with_event(document: dict, event: dict, frame: int) -> dict:
    changed = copy.deepcopy(document)
    changed["timeline"]["info"]["frames"][frame]["events"].append(event)
    return changed


def test_events_at_or_after_ten_minutes_are_cut(documents: list[dict]) -> None:
    base = TASK.to_canonical(_jsonl(documents[:1]), "g.jsonl")
    kill = {"type": "CHAMPION_KILL", "killerId": 1, "victimId": 6, "assistingParticipantIds": [2, 3]}
    late = _with_event(documents[0], {**kill, "timestamp": 600_000}, 11)
    early = _with_event(documents[0], {**kill, "timestamp": 599_999}, 10)
    dragon = {"type": "ELITE_MONSTER_KILL", "killerId": 7, "killerTeamId": 200, "monsterType": "HORDE",
              "timestamp": 300_000}  # fmt: skip
    tower = {"type": "BUILDING_KILL", "buildingType": "TOWER_BUILDING", "teamId": 200, "killerId": 0,
             "timestamp": 420_000}  # fmt: skip
    grubs_and_tower = _with_event(_with_event(documents[0], dragon, 5), tower, 7)
    after_late = TASK.to_canonical(_jsonl([late]), "g.jsonl")
    after_early = TASK.to_canonical(_jsonl([early]), "g.jsonl")
    after_objectives = TASK.to_canonical(_jsonl([grubs_and_tower]), "g.jsonl")
    pd.testing.assert_frame_equal(after_late, base)
    assert after_early["blue_kills"].item() == base["blue_kills"].item() + 1
    assert after_early["red_deaths"].item() == base["red_deaths"].item() + 1
    assert after_early["blue_assists"].item() == base["blue_assists"].item() + 2
    assert after_objectives["red_elite_monsters"].item() == base["red_elite_monsters"].item() + 1
    assert after_objectives["red_dragons"].item() == base["red_dragons"].item()
    assert after_objectives["blue_towers_destroyed"].item() == base["blue_towers_destroyed"].item() + 1


def test_remake_is_skipped_with_the_reason(documents: list[dict]) -> None:
    remake = copy.deepcopy(documents[1])
    frames = remake["timeline"]["info"]["frames"]
    end = {"type": "GAME_END", "timestamp": 215_000, "winningTeam": 100}
    last = {"timestamp": 215_000, "events": [end], "participantFrames": frames[3]["participantFrames"]}
    remake["timeline"]["info"]["frames"] = [*frames[:3], last]
    canonical = TASK.to_canonical(_jsonl([documents[0], remake]), "g.jsonl")
    assert len(canonical) == 1
    assert canonical.attrs["skipped"][0]["game"] == remake["match"]["metadata"]["matchId"]
    assert "3:35, before 10:00" in canonical.attrs["skipped"][0]["reason"]
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_jsonl([remake]), "g.jsonl")
    assert "3:35" in error.value.message


def test_broken_documents_say_what_was_expected(documents: list[dict]) -> None:
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(b'{"hello": 1}\n{"x": 2}\n', "odd.jsonl")
    assert "info.frames" in error.value.message
    broken = copy.deepcopy(documents[0])
    del broken["timeline"]["info"]["frames"][10]["participantFrames"]["4"]
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_jsonl([broken]), "g.jsonl")
    assert error.value.code == ErrorCode.INVALID_INPUT
    assert error.value.details["problems"][0]["value"] == "['4']"


def _changed(document: dict, change: object) -> dict:
    changed = copy.deepcopy(document)
    change(changed)  # type: ignore[operator]
    return changed


def _events(doc: dict) -> list:
    return doc["timeline"]["info"]["frames"][3]["events"]


# Values of the wrong JSON type or range where the documents hold lists, text and ids: ignored as absent (as a
# missing field is), never a TypeError, OverflowError or a broadcast error.
ODD_VALUES = {
    "participants is a number": lambda d: d["match"]["info"].__setitem__("participants", 5),
    "teams is a number": lambda d: d["match"]["info"].__setitem__("teams", 5),
    "a frame's events is a number": lambda d: d["timeline"]["info"]["frames"][3].__setitem__("events", 5),
    "an event type is a list": lambda d: _events(d).append({"type": ["CHAMPION_KILL"], "timestamp": 1}),
    "an event type is an object": lambda d: _events(d).append({"type": {}, "timestamp": 1}),
    "a victim id beyond int64": lambda d: _events(d).append(
        {"type": "CHAMPION_KILL", "timestamp": 1, "victimId": 1e30}
    ),
    "a killer team beyond int64": lambda d: _events(d).append(
        {"type": "ELITE_MONSTER_KILL", "timestamp": 1, "killerTeamId": -1e30}
    ),
    "a monster type is a list": lambda d: _events(d).append(
        {"type": "ELITE_MONSTER_KILL", "timestamp": 1, "killerId": 1, "monsterType": ["DRAGON", "x"]}
    ),
}


@pytest.mark.parametrize("change", ODD_VALUES.values(), ids=ODD_VALUES.keys())
def test_values_of_another_json_type_are_read_as_absent(documents: list[dict], change: object) -> None:
    canonical = TASK.to_canonical(_jsonl([_changed(documents[0], change)]), "g.jsonl")
    assert len(canonical) == 1 and canonical[list(STAT_COLUMNS)].notna().all(axis=None)


def test_a_short_game_with_odd_end_events_is_skipped_with_its_reason(documents: list[dict]) -> None:
    short = copy.deepcopy(documents[0]["timeline"])
    short["info"]["frames"] = short["info"]["frames"][:4]
    short["info"]["frames"][-1]["events"] = [{"type": "GAME_END", "timestamp": "late"}]
    other = copy.deepcopy(short)
    other["info"]["frames"][-1]["events"] = 5
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_jsonl([short, other]), "g.jsonl")
    assert error.value.code == ErrorCode.INVALID_INPUT and "before 10:00" in error.value.message


@pytest.mark.parametrize("gold", [1e300, -5])
def test_frame_values_beyond_any_game_are_a_422_naming_the_participant(documents: list[dict], gold: float) -> None:
    broken = copy.deepcopy(documents[0])
    broken["timeline"]["info"]["frames"][10]["participantFrames"]["3"]["totalGold"] = gold
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_jsonl([broken]), "g.jsonl")
    assert error.value.code == ErrorCode.INVALID_INPUT
    assert error.value.details["problems"][0]["value"] == "['3']"
    assert "from 0 to 10,000,000" in error.value.message


def test_timelines_saved_under_their_match_ids_are_read(documents: list[dict]) -> None:
    # A common way to save API responses: {"EUW1_123": timeline, ...} (or the {match, timeline} pair per id).
    timelines = {d["timeline"]["metadata"]["matchId"]: d["timeline"] for d in documents[:3]}
    keyed = TASK.to_canonical(orjson.dumps(timelines), "timelines.json")
    pd.testing.assert_frame_equal(keyed, TASK.to_canonical(_jsonl(documents[:3]), "games.jsonl"))
    pairs = {d["match"]["metadata"]["matchId"]: d for d in documents[:2]}
    assert len(TASK.to_canonical(orjson.dumps(pairs), "games.json")) == 2


def test_match_documents_without_timelines_say_the_timeline_is_needed(documents: list[dict]) -> None:
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(orjson.dumps(documents[0]["match"]), "EUW1_4501000000.json")
    assert error.value.code == ErrorCode.INVALID_INPUT
    assert "no timeline" in error.value.message and "info.frames" in error.value.message
    assert "lasted" not in error.value.message  # not a game that ended early


def test_match_v4_frames_keyed_in_another_order_than_their_participant_ids(documents: list[dict]) -> None:
    # In match-v4 timelines the entry under key "1" may be participant 3's: the id inside the entry counts.
    expected = TASK.to_canonical(_jsonl(documents[:1]), "g.jsonl")
    shuffled = copy.deepcopy(documents[0])
    order = [3, 5, 2, 4, 1, 8, 10, 7, 6, 9]  # key k holds participant order[k - 1] (a real v4 timeline's order)
    blue_is_red = copy.deepcopy(documents[0])
    for frame in shuffled["timeline"]["info"]["frames"]:
        entries = {int(k): v for k, v in frame["participantFrames"].items()}
        frame["participantFrames"] = {str(k): entries[pid] for k, pid in enumerate(order, start=1)}
    pd.testing.assert_frame_equal(TASK.to_canonical(_jsonl([shuffled]), "g.jsonl"), expected)
    for frame in blue_is_red["timeline"]["info"]["frames"]:  # keys and ids crossing the teams
        entries = {int(k): v for k, v in frame["participantFrames"].items()}
        frame["participantFrames"] = {str(k): entries[(k + 4) % 10 + 1] for k in range(1, 11)}
    pd.testing.assert_frame_equal(TASK.to_canonical(_jsonl([blue_is_red]), "g.jsonl"), expected)
