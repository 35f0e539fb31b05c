"""Headings, band names and the definitions notes of the reports, in Chinese (default) and English."""

from __future__ import annotations

from typing import Sequence

__all__ = ["text", "band_names", "type_name", "definitions", "LANGS"]

LANGS = ("zh", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # sheets
    "sheet_overview": ("概况", "Overview"),
    "sheet_scores": ("成绩总表", "Scores"),
    "sheet_items_scores": ("小题得分", "Question scores"),
    "sheet_items": ("试卷分析", "Item analysis"),
    "sheet_knowledge": ("知识点诊断", "Knowledge points"),
    "sheet_segments": ("一分一段", "Score distribution"),
    "sheet_borderline": ("临界生", "Borderline"),
    "sheet_classes": ("班级对比", "Classes"),
    "sheet_schools": ("学校对比", "Schools"),
    "sheet_totals": ("总分", "Totals"),
    "sheet_trend": ("成绩走势", "Trends"),
    "sheet_notes": ("说明", "Notes"),
    "sheet_value_added": ("增值评价", "Value added"),
    "withheld_note": ("人数过少的其他班级只列人数: 其成绩会暴露个别学生的分数",
                      "Other classes too small to show without giving a student away: head count only"),
    # columns
    "exam_id": ("考号", "Exam ID"), "student_no": ("学籍号", "Student No."), "name": ("姓名", "Name"),
    "class": ("班级", "Class"), "school": ("学校标识码", "School"), "total": ("总分", "Total"),
    "class_rank": ("班级排名", "Class rank"), "grade_rank": ("年级排名", "Grade rank"),
    "city_rank": ("全市排名", "City rank"), "pr": ("百分等级", "Percentile rank"), "z": ("Z分数", "z"),
    "t": ("T分数", "T"), "band": ("等级", "Band"), "n": ("实考人数", "N sat"), "absent": ("缺考", "Absent"),
    "pending": ("待复核", "Pending"), "mean": ("平均分", "Mean"), "sd": ("标准差", "SD"), "max": ("最高分", "Max"),
    "min": ("最低分", "Min"), "median": ("中位数", "Median"), "q1": ("下四分位数", "Q1"), "q3": ("上四分位数", "Q3"),
    "score_rate": ("得分率", "Score rate"), "excellent": ("优秀率", "Excellent"), "good": ("良好率", "Good"),
    "pass": ("及格率", "Pass"), "low": ("低分率", "Low"), "mean_diff": ("均分差(对年级)", "Mean diff vs grade"),
    "mean_ratio": ("均分比(对年级)", "Mean ratio vs grade"), "mean_diff_city": ("均分差(对全市)", "Mean diff vs city"),
    "mean_ratio_city": ("均分比(对全市)", "Mean ratio vs city"), "rank_by_mean": ("均分排名", "Rank by mean"),
    "question": ("题号", "Question"), "type": ("题型", "Type"), "points": ("分值", "Points"),
    "knowledge": ("知识点", "Knowledge points"), "cognitive": ("认知层次", "Cognitive level"),
    "class_mean": ("班级均分", "Class mean"), "class_rate": ("班级得分率", "Class rate"),
    "grade_rate": ("年级得分率", "Grade rate"), "city_rate": ("全市得分率", "City rate"),
    "difficulty": ("难度P(得分率)", "Difficulty P"), "difficulty_band": ("难度评价", "Difficulty band"),
    "discrimination": ("区分度D", "Discrimination D"), "ebel": ("区分度评价(Ebel)", "Ebel band"),
    "total_r": ("题总相关(点二列)", "Item-total r"), "total_r_if_rm": ("校正题总相关", "Corrected r"),
    "alpha_if_rm": ("删题后α", "Alpha if deleted"), "options": ("选项分布(全体)", "Options (all)"),
    "options_upper": ("高分组选项", "Options (upper 27%)"), "options_lower": ("低分组选项", "Options (lower 27%)"),
    "blank": ("未作答", "Blank"), "dead": ("无效干扰项", "Non-functioning"), "suspect": ("可疑干扰项", "Suspect"),
    "slip": ("失误率s", "Slip s"), "guess": ("猜测率g", "Guess g"), "rasch_b": ("Rasch难度b", "Rasch b"),
    "point": ("知识点", "Knowledge point"), "point_points": ("分值(加权)", "Points (weighted)"),
    "rate": ("得分率", "Rate"), "gap": ("差值", "Gap"), "mastery": ("掌握程度", "Mastery"),
    "dina": ("DINA掌握概率", "DINA mastery"), "weakest": ("薄弱知识点", "Weakest points"),
    "score": ("分数", "Score"), "count": ("人数", "Count"), "cumulative": ("累计人数", "Cumulative"),
    "grade_count": ("年级人数", "Grade count"), "grade_cumulative": ("年级累计", "Grade cumulative"),
    "line": ("分数线", "Cut line"), "line_name": ("临界线", "Line"), "missing": ("差分", "Points short"),
    "theta": ("能力值θ", "Ability θ"), "theta_se": ("θ标准误", "θ SE"),
    "alpha": ("信度α", "Cronbach's α"), "sem": ("测量标准误SEM", "SEM"), "k": ("题数", "Items"),
    "full_marks": ("满分", "Full marks"), "test_difficulty": ("试卷难度(得分率)", "Test difficulty"),
    "mean_d": ("平均区分度", "Mean D"), "easy": ("容易题", "Easy"), "medium": ("中等题", "Medium"),
    "hard": ("难题", "Hard"), "histogram": ("分数分布", "Score histogram"), "range": ("分数段", "Score range"),
    "subject": ("科目", "Subject"), "complete": ("完整", "Complete"), "rank_change": ("名次变化", "Rank change"),
    "z_change": ("Z分变化", "z change"), "summary": ("汇总", "Summary"), "value": ("数值", "Value"),
    "item": ("项目", "Item"), "grade": ("年级", "Grade"), "city": ("全市", "City"),
    "sections": ("大题", "Sections"), "school_name": ("学校", "School"),
    "class_vs_grade": ("班级与年级得分率对比", "Class vs grade score rate"),
    "class_means": ("各班平均分", "Class means"), "school_means": ("各校平均分", "School means"),
    "kp_chart": ("知识点得分率", "Knowledge-point rates"),
    "report_class": ("班级成绩分析报告", "Class report"), "report_grade": ("年级成绩分析报告", "Grade report"),
    "report_city": ("全市成绩分析报告", "City report"), "exam": ("考试", "Exam"),
    "none_below": ("无(各知识点均不低于年级)", "none (no point below the grade)"),
    "teacher": ("任课教师", "Teacher"), "pcm_location": ("分部评分模型位置", "PCM location"),
    "score_distribution": ("得分分布", "Score distribution"), "score_unit": ("分", " pts"), "linked": ("关联人数", "Linked students"),
    "va_raw": ("原始增值(标准分)", "Raw value added (z)"), "va_se": ("标准误", "SE"),
    "va_shrinkage": ("收缩系数", "Shrinkage"), "va_estimate": ("增值估计(标准分)", "Value added (z)"),
    "va_low": ("95%区间下限", "95% low"), "va_high": ("95%区间上限", "95% high"),
    "theta_linked": ("能力值θ(链接)", "θ (linked)"), "scale_score": ("量尺分", "Scale score"),
    "group_trend_pr": ("平均百分等级走势", "Mean percentile rank"),
    "group_trend_scale": ("平均量尺分走势(共同题链接)", "Mean scale score (linked)"),
    "irt_linking": ("IRT 共同题链接", "IRT linking through common items"), "linking_method": ("方法", "Method"),
    "common_items": ("共同题数", "Common items"), "linking_slope": ("斜率A", "Slope A"),
    "linking_intercept": ("截距B", "Intercept B"), "linking_note": ("说明", "Note"),
    "linking_base": ("基准(首次考试)", "base (first exam)"),
    "scale_note": ("θ 为 Rasch 能力值，已按共同题换算到首次考试的量尺；量尺分 = 500 + 100·θ/σ（σ 为首次考试能力标准差），"
                   "各次考试可直接比较，分数变高表示进步。",
                   "θ: Rasch ability on the first exam's scale through the common items; scale score = 500 + "
                   "100·θ/σ (σ the first exam's ability SD), comparable across exams: higher means growth."),
    "va_shown": ("是否报告", "Reported"), "va_too_few": ("人数不足，不报告", "too few students, not reported"),
    "va_yes": ("报告", "reported"), "unmatched_reason": ("未对应原因", "Why not linked"),
    "va_method": ("增值：本次Z分对上次Z分回归(全年级)，班级/教师的增值为其学生残差的平均，按经验贝叶斯向0收缩，"
                  "区间为95%后验区间；人数不足者不报告。",
                  "Value added: this exam's z regressed on the last exam's z over the grade; a class's or "
                  "teacher's value added is its students' mean residual, shrunk toward 0 (empirical Bayes), with a "
                  "95% interval; groups with too few linked students are not reported."),
}

_BANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "performance": (("优秀", "良好", "及格", "不及格", "低分"), ("Excellent", "Good", "Pass", "Fail", "Low")),
    "ebel": (("优秀", "良好", "尚可(需修改)", "差(淘汰或重编)"), ("Very good", "Good", "Acceptable", "Poor")),
    "difficulty": (("容易", "中等", "较难"), ("Easy", "Medium", "Hard")),
    "mastery": (("已掌握", "基本掌握", "待加强"), ("Mastered", "Partly", "Not yet")),
    "lines": (("优秀线", "良好线", "及格线", "低分线"), ("Excellent line", "Good line", "Pass line", "Low line")),
    "types": (("单选", "多选", "判断", "主观"), ("Single", "Multi", "True/false", "Subjective")),
}
_TYPE_KEYS = ("single", "multi", "truefalse", "subjective")


def _lang_index(lang: str) -> int:
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: use zh or en")
    return LANGS.index(lang)


def text(key: str, lang: str = "zh") -> str:
    """A heading in ``lang``."""
    return _TEXT[key][_lang_index(lang)]


def band_names(kind: str, lang: str = "zh") -> tuple[str, ...]:
    """Names of the bands of ``kind`` (performance, ebel, difficulty, mastery, lines)."""
    return _BANDS[kind][_lang_index(lang)]


def type_name(kind: str, lang: str = "zh") -> str:
    return _BANDS["types"][_lang_index(lang)][_TYPE_KEYS.index(kind)]



def definitions(lang: str, cutoffs: Sequence[float], band: float, fraction: float, mastery: Sequence[float],
                correct_at: float) -> list[tuple[str, str]]:
    """(figure, definition) pairs for a report's notes: which standard definition every figure uses."""
    c = [f"{100 * v:g}%" for v in cutoffs]
    m = [f"{100 * v:g}%" for v in mastery]
    f = f"{100 * fraction:g}%"
    if lang == "zh":
        return [
            ("统计对象", "实考学生(缺考、待复核、重复答题卡不计入统计,只计人数)"),
            ("平均分、标准差", "标准差为样本标准差(ddof = 1)"),
            ("中位数、四分位数", "Hyndman-Fan 第7类分位数(与 R quantile 默认、numpy linear 相同)"),
            ("得分率", "平均分 / 满分"),
            ("四率", f"优秀率 = 总分 ≥ 满分×{c[0]} 的人数比例;良好率 ≥ {c[1]};及格率 ≥ {c[2]}"
                     f"(均为累计,含更高等级);低分率 = 总分 < {c[3]}"),
            ("排名", "竞争排名:同分同名次,下一名次跳过(1, 2, 2, 4);年级 = 本校同一考试的全部实考学生"),
            ("百分等级", "PR = 100 ×(低于该分人数 + 0.5 × 同分人数)/ 实考人数"),
            ("Z分数、T分数", "z = (X − 平均分)/ 标准差(ddof = 1,年级内);T = 50 + 10z"),
            ("一分一段", "每一分数段 [s, s+1) 的人数及从最高分起的累计人数"),
            ("班级与年级对比", "均分差 = 班级均分 − 年级均分;均分比 = 班级均分 / 年级均分"),
            ("临界生", f"总分在其上方最近一条分数线以下 {band:g} 分以内的学生(线 − {band:g} ≤ 总分 < 线)"),
            ("难度P", "P = 平均得分 / 分值(即得分率,越大越容易;注意部分教材称 1 − P 为难度系数)。"
                     "P > 0.7 容易,0.4–0.7 中等,< 0.4 较难"),
            ("区分度D", f"按总分排序取高、低各 {f} 学生(同分按原顺序),D = (高分组均分 − 低分组均分)/ 分值。"
                       "Ebel 标准:≥ 0.40 优秀,0.30–0.39 良好,0.20–0.29 尚可需修改,< 0.20 差"),
            ("题总相关", "r = corr(小题得分, 总分)(0/1 题即点二列相关);校正题总相关 = corr(小题得分, 总分 − 该题得分)"
                        ",与 R mirt::itemstats 的 total.r、total.r_if_rm 相同"),
            ("信度α", "Cronbach α = k/(k−1) × (1 − Σ题目方差 / 总分方差),样本方差(ddof = 1);0/1 计分时即 KR-20;"
                     "删题后α 为其余 k − 1 题的 α"),
            ("测量标准误", "SEM = 总分标准差 × √(1 − α)"),
            ("干扰项", f"各选项在全体及高、低分组({f})中的选择比例;选择比例 < 5% 为无效干扰项,"
                      "高分组选择比例高于低分组为可疑干扰项"),
            ("知识点得分率", "按双向细目表的知识点权重(每题权重归一)分配分值与得分:得分率 = Σ 分配得分 / Σ 分配分值"),
            ("掌握程度", f"得分率 ≥ {m[0]} 已掌握;{m[1]}–{m[0]} 基本掌握;< {m[1]} 待加强"),
            ("薄弱知识点", "与年级同一知识点得分率相比差值最小(最负)的知识点"),
            ("DINA", f"认知诊断 DINA 模型:得分达到分值 {100 * correct_at:g}% 记为答对;η = 掌握该题全部所需知识点;"
                     "P(答对) = (1 − s)^η · g^(1 − η);EM 算法在全部 2^K 种掌握模式上估计;报告每名学生掌握每个知识点"
                     "的后验概率及各题失误率 s、猜测率 g"),
            ("Rasch", "P(答对) = 1 / (1 + exp(−(θ − b)));边际极大似然(EM,求积网格)估计 b,θ 为 EAP 估计,"
                      "标准误为后验标准差"),
            ("共同题链接", "几次考试有相同题库题目(共同题)时,各次分别做 Rasch 估计,再经共同题换算到首次考试的量尺:"
                          "θ' = Aθ + B,A、B 用 Stocking–Lord 特征曲线法(并列出均值-均值法、均值-标准差法的结果;"
                          "Kolen & Brennan 2014 第 6 章);难度漂移的共同题(链接后相差 > 0.3 logit、稳健 z > 1.645 且超出"
                          "估计误差)不用;共同题少于 5 道或参加人数少于 30 名时不链接,只比较 Z 分和百分等级"),
            ("量尺分", "500 + 100 × θ'/σ,σ 为首次考试的能力标准差:各次考试可直接比较,升高表示进步"),
        ]
    return [
        ("Population", "examinees who sat (absent, pending and duplicate sheets are counted, not analysed)"),
        ("Mean, SD", "SD is the sample SD (ddof = 1)"),
        ("Median, quartiles", "Hyndman–Fan type 7 (R's default quantile, numpy's linear)"),
        ("Score rate", "mean / full marks"),
        ("Four rates", f"excellent = share with total >= {c[0]} of full marks; good >= {c[1]}; pass >= {c[2]} "
                       f"(cumulative); low = total < {c[3]}"),
        ("Ranks", "competition ranking: ties share a rank, the next is skipped (1, 2, 2, 4); grade = all who sat "
                  "in the school"),
        ("Percentile rank", "PR = 100 * (count below + 0.5 * count equal) / N"),
        ("z, T", "z = (X - mean) / SD (ddof = 1, within the grade); T = 50 + 10 z"),
        ("Score distribution", "count in each segment [s, s+1) and cumulative count from the top"),
        ("Class vs grade", "mean difference = class mean - grade mean; mean ratio = class mean / grade mean"),
        ("Borderline", f"students within {band:g} points below the nearest cut line above them "
                       f"(line - {band:g} <= total < line)"),
        ("Difficulty P", "P = mean item score / points (higher = easier; some texts call 1 - P the difficulty). "
                         "P > 0.7 easy, 0.4-0.7 medium, < 0.4 hard"),
        ("Discrimination D", f"upper and lower {f} by total (ties in input order); D = (upper mean - lower mean) "
                             "/ points. Ebel: >= 0.40 very good, 0.30-0.39 good, 0.20-0.29 acceptable, < 0.20 poor"),
        ("Item-total r", "r = corr(item, total) (point-biserial for 0/1 items); corrected r = corr(item, total - "
                         "item); mirt::itemstats total.r and total.r_if_rm"),
        ("Cronbach's alpha", "alpha = k/(k-1) * (1 - sum of item variances / total variance), ddof = 1; KR-20 for "
                             "0/1 items; alpha if deleted uses the other k - 1 items"),
        ("SEM", "SEM = SD(total) * sqrt(1 - alpha)"),
        ("Distractors", f"share choosing each option overall and in the upper/lower {f}; non-functioning if < 5 %, "
                        "suspect if the upper group chooses it more than the lower"),
        ("Knowledge-point rate", "points and scores shared out by the blueprint weights (normalised per question): "
                                 "rate = sum of shared scores / sum of shared points"),
        ("Mastery", f"rate >= {m[0]} mastered; {m[1]}-{m[0]} partly; < {m[1]} not yet"),
        ("Weakest points", "the points with the lowest rate relative to the grade's rate"),
        ("DINA", f"an item is correct at {100 * correct_at:g}% of its points; eta = masters every required point; "
                 "P(correct) = (1 - s)^eta * g^(1 - eta); EM over all 2^K profiles; posterior mastery probability "
                 "per student and point, slip s and guess g per item"),
        ("Rasch", "P(correct) = 1 / (1 + exp(-(theta - b))); b by marginal maximum likelihood (EM on a quadrature "
                  "grid), theta as EAP with the posterior SD as its standard error"),
        ("Common-item linking", "when exams share bank items, each is calibrated by Rasch and put on the first "
                                "exam's scale, theta' = A theta + B, A and B by Stocking-Lord (mean/mean and "
                                "mean/sigma listed beside it; Kolen & Brennan 2014, ch. 6); common items that drifted "
                                "(> 0.3 logit after linking, robust z > 1.645 and beyond their standard error) are "
                                "left out; fewer than 5 common items or 30 students: z and percentile only"),
        ("Scale score", "500 + 100 theta' / sigma, sigma the first exam's ability SD: comparable across exams"),
    ]
