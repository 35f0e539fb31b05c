"""IRT linking through common items: known shifts and scales recovered by mean/sigma and Stocking–Lord, a drifting
common item screened out, too few common items -> no link with the reason."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.linking import (DRIFT_LOGITS, MIN_COMMON_ITEMS, link_rasch, mean_mean, mean_sigma, screen_drift,
                               stocking_lord)
from analytics.longitudinal import ExamScores, link_exams
from analytics.progress import progress_of
from analytics.report_json import progress_json


def _two_pl(theta: np.ndarray, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-a[None, :] * (theta[:, None] - b[None, :])))
    return (rng.random(p.shape) < p).astype(float)


@pytest.mark.parametrize("slope, intercept", [(1.3, -0.5), (0.8, 0.7)])
def test_known_transformation_of_item_parameters_is_recovered(slope, intercept):
    """Item parameters of 15 common items expressed on a new scale (b_new = (b − B)/A, a_new = A·a), with estimation
    noise: every method gives back A and B."""
    rng = np.random.default_rng(3)
    a_base = rng.uniform(0.7, 1.8, 15)
    b_base = rng.normal(0.0, 1.0, 15)
    b_new = (b_base - intercept) / slope + rng.normal(0.0, 0.03, 15)
    a_new = a_base * slope * np.exp(rng.normal(0.0, 0.02, 15))
    for constants in (mean_sigma(b_new, b_base), stocking_lord(a_new, b_new, a_base, b_base),
                      mean_mean(a_new, b_new, a_base, b_base)):
        assert constants.slope == pytest.approx(slope, abs=0.06), constants
        assert constants.intercept == pytest.approx(intercept, abs=0.06), constants
    # without noise the characteristic curves coincide at the true constants
    exact = stocking_lord(a_base * slope, (b_base - intercept) / slope, a_base, b_base)
    assert (exact.slope, exact.intercept) == pytest.approx((slope, intercept), abs=1e-4)


def _exams(rng, *, shift: float, sd: float, common: int, n: int = 700, drift: float = 0.0):
    """Two Rasch exams of 24 items; the first ``common`` of each are the same bank items. The second group's
    abilities are N(shift, sd²) on the first group's scale (N(0, 1)); ``drift`` makes the first common item that
    much harder in the second exam."""
    b_common = np.linspace(-1.5, 1.5, common) if common else np.zeros(0)
    b_first = np.concatenate([b_common, rng.normal(0, 1, 24 - common)])
    b_second = np.concatenate([b_common, rng.normal(0.5, 1, 24 - common)])
    if common and drift:
        b_second[0] += drift
    keys_first = [f"bank-{j}" for j in range(common)] + [f"first-{j}" for j in range(24 - common)]
    keys_second = [f"bank-{j}" for j in range(common)] + [f"second-{j}" for j in range(24 - common)]
    theta_first = rng.normal(0.0, 1.0, n)
    theta_second = rng.normal(shift, sd, n)
    ones = np.ones(24)
    return ([keys_first, keys_second],
            [_two_pl(theta_first, ones, b_first, rng), _two_pl(theta_second, ones, b_second, rng)],
            (theta_first, theta_second))


@pytest.mark.parametrize("method", ["stocking_lord", "mean_sigma", "mean_mean"])
def test_a_known_shift_and_spread_are_recovered(method):
    """The second group is 0.6 logits abler and 1.3 times as spread: on the first exam's scale its linked
    abilities average 0.6 above the first group's and spread 1.3 times as much (the Rasch unit is the model's, so
    A stays near 1 and B carries the shift)."""
    rng = np.random.default_rng(11)
    keys, responses, (first, second_true) = _exams(rng, shift=0.6, sd=1.3, common=10)
    shift = second_true.mean() - first.mean()  # the simulated groups' own gap (0.6 plus sampling noise)
    linking = link_rasch(["期中", "期末"], keys, responses, method=method)
    base, second = linking.links
    assert base.linked and second.linked and second.method == method
    assert len(second.common) == 10 and not second.dropped
    assert second.slope == pytest.approx(1.0, abs=0.1)
    assert second.intercept == pytest.approx(shift, abs=0.1)
    gap = np.nanmean(linking.theta[1]) - np.nanmean(linking.theta[0])
    assert gap == pytest.approx(shift, abs=0.1)
    ratio = np.nanstd(linking.theta[1]) / np.nanstd(linking.theta[0])
    assert ratio == pytest.approx(second_true.std() / first.std(), abs=0.1)
    # every method's constants are reported, and they agree
    assert set(second.constants) == {"stocking_lord", "mean_sigma", "mean_mean"}
    assert max(c.intercept for c in second.constants.values()) - min(
        c.intercept for c in second.constants.values()) < 0.15
    scores = linking.scale_scores[0]
    assert np.nanmean(scores) == pytest.approx(500, abs=5) and np.nanstd(scores) == pytest.approx(100, abs=15)


def test_a_drifting_common_item_is_dropped_with_its_reason():
    rng = np.random.default_rng(5)
    keys, responses, (first, second_true) = _exams(rng, shift=0.4, sd=1.0, common=10, drift=1.5)
    second = link_rasch(["期中", "期末"], keys, responses).links[1]
    assert second.linked and [item.item_id for item in second.dropped] == ["bank-0"]
    drifted = second.dropped[0]
    assert drifted.displacement > DRIFT_LOGITS and "难度漂移" in drifted.reason
    assert len(second.common) == 9 and "bank-0" not in second.common
    # the shift without the drifted item (with it, mean/mean's B would be 0.15 off)
    assert second.intercept == pytest.approx(second_true.mean() - first.mean(), abs=0.1)


def test_screen_drift_flags_the_outlier():
    b_base = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
    b_new = b_base - 0.2
    b_new[3] += 0.8
    constants = mean_mean(np.ones(6), b_new, np.ones(6), b_base)
    displacement, z = screen_drift(b_new, b_base, constants)
    assert np.argmax(np.abs(z)) == 3 and abs(displacement[3]) > DRIFT_LOGITS


def test_too_few_common_items_leave_the_exam_unlinked_with_the_reason():
    rng = np.random.default_rng(7)
    keys, responses, _ = _exams(rng, shift=0.3, sd=1.0, common=3, n=300)
    linking = link_rasch(["期中", "期末"], keys, responses)
    second = linking.links[1]
    assert not second.linked and np.isnan(linking.theta[1]).all() and not linking.any_linked
    assert f"共同题只有 3 道（至少需要 {MIN_COMMON_ITEMS} 道）" in second.reason and "z 分和百分等级" in second.reason
    assert np.isfinite(linking.theta[0]).all()  # the first exam is its own scale
    keys, responses, _ = _exams(rng, shift=0.3, sd=1.0, common=10, n=20)
    small = link_rasch(["期中", "期末"], keys, responses).links
    assert not small[0].linked and "参加人数 20 名（至少需要 30 名）" in small[0].reason
    assert not small[1].linked and "首次考试（期中）无法估计" in small[1].reason


def test_students_who_did_not_sit_get_no_ability():
    rng = np.random.default_rng(8)
    keys, responses, _ = _exams(rng, shift=0.0, sd=1.0, common=8, n=200)
    responses[1][:5] = np.nan
    linking = link_rasch(["a", "b"], keys, responses)
    assert np.isnan(linking.theta[1][:5]).all() and np.isfinite(linking.theta[1][5:]).all()


def _record_exams(common: int, *, with_items: bool = True):
    """The same 500 students (by 学籍号, new 考号) in two Rasch exams sharing ``common`` bank items; between them
    every student grew by 0.5 logits (plus noise)."""
    rng = np.random.default_rng(21)
    n = 500
    nos = np.array([f"G{i:018d}" for i in range(n)], dtype=object)
    theta_first = rng.normal(0, 1, n)
    theta_second = theta_first + 0.5 + rng.normal(0, 0.3, n)
    b_common = np.linspace(-1.2, 1.2, common)
    exams = []
    for label, theta, prefix in (("期中", theta_first, "2026"), ("期末", theta_second, "2027")):
        b = np.concatenate([b_common, rng.normal(0.3, 1, 20 - common)])
        keys = tuple([f"bank-{j}" for j in range(common)] + [f"{label}-{j}" for j in range(20 - common)])
        y = _two_pl(theta, np.ones(20), b, rng)
        ids = np.array([f"{prefix}{i:06d}" for i in range(n)], dtype=object)
        exams.append(ExamScores(label, ids, nos, y.sum(axis=1), item_keys=keys if with_items else (),
                                responses=y if with_items else None))
    return exams


def test_the_record_carries_linked_abilities_and_the_json_says_how():
    record = link_exams(_record_exams(8))
    assert record.linked_theta and record.linking.method == "stocking_lord"
    growth = np.nanmean(record.theta[:, 1] - record.theta[:, 0])
    assert growth == pytest.approx(0.5, abs=0.1)  # the simulated growth, on the first exam's scale
    assert np.nanmean(record.scale_scores[:, 1] - record.scale_scores[:, 0]) == pytest.approx(
        100 * growth / record.linking.base_sd)
    progress = progress_of(_record_exams(8))
    assert any("经 8 道共同题用Stocking–Lord 特征曲线法换算" in note for note in progress.notes)
    document = progress_json(progress)
    linking = document["trend"]["linking"]
    assert linking["method"] == "stocking_lord" and linking["base"] == "期中"
    assert linking["exams"][1]["linked"] and len(linking["exams"][1]["common_items"]) == 8
    assert set(linking["exams"][1]["constants"]) == {"stocking_lord", "mean_sigma", "mean_mean"}
    student = document["trend"]["students"][0]
    assert len(student["theta"]) == 2 and student["scale_scores"][1] is not None


def test_an_exam_without_its_items_keeps_z_and_percentile_with_the_reason():
    exams = _record_exams(8)
    exams[0] = _record_exams(8, with_items=False)[0]
    progress = progress_of(exams)
    assert progress.record.linking is None and np.isnan(progress.record.theta).all()
    assert any("期中 的试卷定义（exam.json）不在成绩文件夹中" in note for note in progress.notes)
    assert progress_json(progress)["trend"]["linking"]["note"].startswith("期中 的试卷定义")
    few = progress_of(_record_exams(3))
    assert not few.record.linked_theta
    assert any("期末：与此前考试的共同题只有 3 道" in note for note in few.notes)
