"""Counting outcomes: a rate with nothing to divide by is unknown, never a flattering 1.0."""

from __future__ import annotations

from auditing.evaluation.metrics import Figure, Tally, ratio


def test_a_tally_counts_each_outcome_into_precision_recall_and_false_positive_rate():
    tally = Tally()
    for expected, found in [(True, True), (True, True), (True, False), (False, True), (False, False), (False, False)]:
        tally.add(expected=expected, found=found)

    assert (tally.true_positives, tally.false_negatives, tally.false_positives, tally.true_negatives) == (2, 1, 1, 2)
    assert tally.precision == 2 / 3 and tally.recall == 2 / 3 and tally.false_positive_rate == 1 / 3


def test_an_empty_tally_has_unknown_rates_that_fail_any_target():
    tally = Tally()

    assert tally.precision is None and tally.recall is None and tally.false_positive_rate is None
    assert not Figure("accuracy.x.recall", ratio(tally.recall), "ratio", ">=", 0.0).met


def test_a_figure_prints_as_one_bench_line():
    figure = Figure("accuracy.nsfw.false_positive_rate", 0.0033, "ratio", "<=", 0.01)

    assert figure.bench_line() == "BENCH accuracy.nsfw.false_positive_rate 0.003 ratio target <= 0.01"
    assert figure.met
