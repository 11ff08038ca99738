"""proxies.scoring.pareto and the ``screen`` evaluator: the screening's two-objective place, on known points."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from proxies.calibration.evaluators import EVALUATORS, combine, pareto_place
from proxies.scoring.pareto import crowding_distances, domination_counts, places

# (score, cost): A and C are on the front; B is dominated by A; D by A, B and C
POINTS = [(3.0, 1.0), (2.0, 2.0), (1.0, 0.5), (0.0, 3.0)]


def test_domination_crowding_and_places_known_answers():
    assert domination_counts(POINTS) == [0, 1, 0, 3]
    assert crowding_distances(POINTS[:1] + POINTS[2:3]) == [math.inf, math.inf]  # a front of two: both ends
    assert places(POINTS) == [0, 2, 0, 3]  # A and C tie at 0 (both ends of the front)
    # within a group dominated equally often, the larger crowding distance ranks first
    front = [(0.0, 0.0), (1.0, 1.0), (1.9, 1.9), (2.0, 2.0)]  # one front; (1.0, 1.0) is the most isolated inside
    assert domination_counts(front) == [0, 0, 0, 0]
    assert places(front) == [0, 2, 3, 0]
    assert places([(math.nan, 5.0), (1.0, 5.0)]) == [1, 0]  # a failed score is the lowest score


def test_pareto_place_scores_and_the_screen_evaluator():
    score = pd.Series({"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0, "e": math.nan})
    cost = pd.Series({"a": 1.0, "b": 2.0, "c": 0.5, "d": 3.0, "e": 1.0, "f": 1.0})
    got = pareto_place(score, cost)
    assert got.to_dict() == {"a": 0.0, "b": -2.0, "c": 0.0, "d": -3.0}  # e has no score: left out
    assert pareto_place(score, cost, ["d", "b"]).to_dict() == {"d": -1.0, "b": 0.0}  # within the set given
    screen = EVALUATORS["screen"]
    assert screen.members == ("synflow", "ops") and screen.combine == "pareto"
    assert combine(screen, [score, cost]).equals(got)
    rank = EVALUATORS["default+synflow"]
    assert combine(rank, [score, cost], None, ["a", "b"]).to_dict() == {"a": 1.5, "b": 1.5}  # mean rank


def test_a_pareto_combination_takes_no_weights():
    from proxies.calibration.evaluators import Evaluator

    with pytest.raises(ValueError, match="Pareto place needs two members"):
        Evaluator("x", "", members=("synflow", "ops"), combine="pareto", fit_weights=True)
    with pytest.raises(ValueError, match="unknown combination"):
        Evaluator("x", "", members=("synflow", "ops"), combine="max")
