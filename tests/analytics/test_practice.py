"""Practice sets: θ on the bank's scale, items at P(correct) 0.6–0.8, never one answered before, shortages said."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from analytics.analysis import analyse
from analytics.load import load_grade_output
from analytics.practice import (Candidate, ability_on_bank_scale, b_from_p, fixed_anchor_rasch, pick_items,
                                point_pools, wle_theta)
from analytics.wrongbook import build_wrongbook
from analytics_builders import sample_exam
from wrongbook_builders import bank_for, exam_with_ids


def _wle_by_optimiser(raw: int, b: np.ndarray) -> float:
    """Warm's WLE as the maximiser of log L(θ) + ½ log I(θ) (an optimiser, not the module's score equation)."""
    def negative(theta: float) -> float:
        p = 1 / (1 + np.exp(b - theta))
        return -(raw * theta - np.log1p(np.exp(theta - b)).sum() + 0.5 * np.log((p * (1 - p)).sum()))
    return float(minimize_scalar(negative, bounds=(-12, 12), method="bounded", options={"xatol": 1e-9}).x)


def test_wle_is_the_weighted_likelihood_maximum_for_every_raw_score():
    b = np.random.default_rng(3).normal(0.3, 1.2, 15)
    theta, se = wle_theta(b)
    expected = [_wle_by_optimiser(r, b) for r in range(len(b) + 1)]
    assert np.allclose(theta, expected, atol=1e-5)
    assert np.all(np.diff(theta) > 0) and np.all(np.isfinite(theta))  # finite for 0 and k right
    p = 1 / (1 + np.exp(b[None, :] - theta[:, None]))
    assert np.allclose(se, 1 / np.sqrt((p * (1 - p)).sum(axis=1)))


def test_anchored_items_put_the_students_on_the_banks_scale():
    rng = np.random.default_rng(8)
    b = np.linspace(-2.0, 2.0, 20)
    theta = rng.normal(0.8, 1.3, 3000)
    y = (rng.random((3000, 20)) < 1 / (1 + np.exp(b[None, :] - theta[:, None]))).astype(np.uint8)
    anchors = np.where(np.arange(20) % 2 == 0, b, np.nan)
    fitted, mean, sigma = fixed_anchor_rasch(y, anchors)
    assert np.array_equal(fitted[::2], b[::2])  # anchors held
    assert np.abs(fitted[1::2] - b[1::2]).max() < 0.2  # the others found on the same scale
    assert mean == pytest.approx(0.8, abs=0.1) and sigma == pytest.approx(1.3, abs=0.1)

    scores = y.astype(float)
    scale = ability_on_bank_scale(scores, np.ones(20), np.ones(3000, bool), anchors.tolist())
    assert scale.source == "bank" and int(scale.anchored.sum()) == 10
    assert abs(np.mean(scale.theta) - 0.8) < 0.15
    # with two anchors only, the exam's own scale (mean 0) and the page says so
    few = ability_on_bank_scale(scores, np.ones(20), np.ones(3000, bool), [b[0], b[1]] + [None] * 18)
    assert few.source == "exam" and not few.anchored.any() and "自身" in few.method_zh()
    assert abs(np.mean(few.theta)) < 0.15


def test_an_item_known_by_p_only_is_placed_where_its_marginal_p_holds():
    mean, sigma = 0.4, 1.5
    grid = np.linspace(mean - 8 * sigma, mean + 8 * sigma, 4001)
    weight = np.exp(-0.5 * ((grid - mean) / sigma) ** 2)
    for p in (0.3, 0.55, 0.8):
        b = b_from_p(p, mean, sigma)
        marginal = float((weight / (1 + np.exp(b - grid))).sum() / weight.sum())
        assert marginal == pytest.approx(p, abs=0.01)


def _candidates() -> list[Candidate]:
    cs = [Candidate(f"t:{k}", ("K1",), float(b), None, 0) for k, b in enumerate(np.linspace(-3, 3, 25))]
    cs += [Candidate("t:p-only", ("K1",), None, 0.45, 200), Candidate("t:few", ("K1",), None, 0.45, 5),
           Candidate("t:none", ("K1",), None, None, 0), Candidate("t:other", ("K2",), 0.0, None, 0)]
    return cs


def test_pick_items_stays_in_the_window_and_says_when_short():
    pools = point_pools(_candidates())
    assert set(pools) == {"K1", "K2"} and set(pools["K1"].unplaced) == {"t:few", "t:none"}
    chosen = pick_items(0.85, "K1", "集合", pools["K1"], {"t:12"}, count=3, seed=1, student="s1")
    assert len(chosen.items) == 3 and not chosen.shortage
    for item in chosen.items:
        assert 0.6 <= 1 / (1 + np.exp(item.b - 0.85)) <= 0.8 and item.item_id != "t:12"
    wide = pick_items(0.85, "K1", "集合", pools["K1"], set(), count=10, seed=1, student="s1")
    assert len(wide.items) < 10 and f"仅找到 {len(wide.items)} 道" in wide.shortage and "其中 2 道无难度数据" in wide.shortage
    assert "共 28 道,未做过的 28 道" in wide.shortage
    assert "t:p-only" in {item.item_id for item in wide.items}  # P 0.45 in a N(0, 1) cohort: b 0.23, P 0.65
    skipped = pick_items(0.85, "K1", "集合", point_pools(_candidates(), use_p=False)["K1"], set(), count=10, seed=1,
                         student="s1")
    assert "t:p-only" not in {item.item_id for item in skipped.items}
    nothing = pick_items(0.0, "K9", "数列", None, set(), count=2)
    assert not nothing.items and "仅找到 0 道" in nothing.shortage and "共 0 道" in nothing.shortage


@pytest.fixture(scope="module")
def linked(graded_folder):
    """The sample grade analysed with item ids on its questions, and a bank where every question has a Rasch b."""
    exam = exam_with_ids(sample_exam())
    return analyse(load_grade_output(graded_folder, exam)), bank_for(exam, every_b=True)


def _raw_scores(analysis) -> np.ndarray:
    data = analysis.data
    return (data.scores >= 0.6 * data.points[None, :] - 1e-9).sum(axis=1)


def test_every_practice_item_fits_the_students_ability_and_was_never_answered(linked):
    analysis, bank = linked
    data, s, bp = analysis.data, analysis.students, analysis.blueprint
    items = bank.by_id()
    b_exam = np.array([items[data.exam.question(q).item_id].stats.rasch_b for q in data.item_ids])
    theta_of_raw = {r: _wle_by_optimiser(r, b_exam) for r in range(len(b_exam) + 1)}  # every question anchored
    practice_ids = sorted(i.id for i in bank.items if i.id.startswith("t:P"))
    rng = np.random.default_rng(0)
    before = {str(no): set(rng.choice(practice_ids, 40, replace=False).tolist())
              for no in data.student_nos[s.rows].tolist()}
    book = build_wrongbook(analysis, bank, answered_before=before, count=3, seed=5)
    raw = _raw_scores(analysis)
    exam_items = {q.item_id for q in data.exam.questions}
    checked = 0
    for i, st in enumerate(book.students):
        k = int(np.flatnonzero(s.rows == st.row)[0])
        theta = theta_of_raw[int(raw[st.row])]
        assert st.theta == pytest.approx(theta, abs=1e-4)
        weak = [bp.point_ids[t] for t, gap in zip(s.weakest[k].tolist(), s.weakest_gaps[k].tolist()) if gap < 0]
        assert [ps.point_id for ps in st.practice] == weak  # each weak point has its set
        given = [it.item_id for ps in st.practice for it in ps.items]
        assert len(given) == len(set(given))
        for ps in st.practice:
            for it in ps.items:
                p = 1 / (1 + np.exp(items[it.item_id].stats.rasch_b - theta))
                assert 0.6 - 1e-9 <= p <= 0.8 + 1e-9, (st.name, it.item_id, p)
                assert it.item_id not in exam_items and it.item_id not in before[st.student_no]
                assert ps.point_id in items[it.item_id].knowledge_points
                checked += 1
            if len(ps.items) < ps.wanted:  # short: said so, and really nothing else fitted
                assert f"仅找到 {len(ps.items)} 道" in ps.shortage
                fitting = [c for c in bank.items if ps.point_id in c.knowledge_points and c.id not in exam_items
                           and c.id not in before[st.student_no] and c.id not in given
                           and 0.6 <= 1 / (1 + np.exp(c.stats.rasch_b - theta)) <= 0.8]
                assert not fitting
            else:
                assert not ps.shortage
    assert checked > 50
    assert any("按 P 换算" in note for note in book.notes)
    assert any("不按历史得分率换算" in note for note in build_wrongbook(analysis, bank, use_p=False).notes)


def test_practice_is_deterministic_by_seed(linked):
    analysis, bank = linked
    first = build_wrongbook(analysis, bank, seed=3)
    again = build_wrongbook(analysis, bank, seed=3)
    other = build_wrongbook(analysis, bank, seed=4)

    def sets(book):
        return [[it.item_id for ps in st.practice for it in ps.items] for st in book.students]
    assert sets(first) == sets(again)
    assert sets(first) != sets(other)  # the bank has items of equal b: the seed orders them
