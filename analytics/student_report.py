"""Printable per-student diagnosis reports (学生诊断报告): one A4 page per student, a whole class in one PDF.

Each page: who, the total with class and grade ranks, the rank band (年级前 10 % ...), percentile rank and T
score, section subtotals against the grade, a knowledge-point profile chart (the student's rate against the
grade's on every point, with the mastery figure of :mod:`analytics.mastery` and its method in a teacher's words),
the weakest points each with the questions that show it (the student's score and the grade's rate on each) and the
questions that lost the most points. The CJK font is WenQuanYi Micro Hei (``fonts-wqy-microhei``, installed by ``make system-deps``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from analytics.analysis import Analysis
from analytics.diagnosis import DINA_RMSEA_GOOD
from analytics.labels import band_names
from analytics.longitudinal import steady_points
from analytics.mastery import MASTERY_SOURCES
from omr.pdf_font import cjk_font_name

__all__ = ["write_student_reports", "rank_band"]


_T = {
    "zh": {"title": "学生学业诊断报告", "name": "姓名", "exam_id": "考号", "class": "班级", "school": "学校",
           "total": "总分", "full": "满分", "class_rank": "班级排名", "grade_rank": "年级排名", "pr": "百分等级",
           "t": "T分数", "band": "等级", "rank_band": "年级位置", "section": "大题", "score": "得分",
           "grade_mean": "年级均分", "profile": "知识点得分率(学生 vs 年级)", "point": "知识点", "you": "本人",
           "grade": "年级", "mastery": "掌握程度", "weakest": "薄弱知识点(低于年级)及相关题目", "lost": "失分较多的题目",
           "none": "无:各知识点得分率均不低于年级", "advice": "建议优先复习以上知识点,并订正对应题目。",
           "note": "得分率 = 得分/分值(按双向细目表权重分配);百分等级 = 100×(低于本人人数 + 0.5×同分人数)/实考人数;"
                   "T = 50 + 10z(年级内)。",
           "mastery_rate": "掌握程度:本人得分率向全班水平适当靠拢后的估计(考查该知识点的题目越少,靠拢越多),"
                           "括号内为{level}%可信区间。",
           "mastery_dina": "掌握程度:根据答对了哪些题目推断的掌握可能性(认知诊断模型,已通过拟合检验);"
                           "标†者模型判断与本人得分率不一致,改按得分率估计,括号内为{level}%可信区间。",
           "mastery_tech": "技术说明:得分率估计为 beta-binomial 经验贝叶斯收缩;DINA 模型拟合检验为项目 RMSEA 均值"
                           "(≤ {cut} 采用),本次 {rmsea}。",
           "item_line": "{q} 得{score}/{points}分(年级得分率{rate})", "top": "前", "bottom": "后", "points": "分",
           "portrait": "数字画像(成绩追踪)", "student_no": "学籍号", "exam": "考试", "not_sat": "未参加",
           "pr_trend": "百分等级走势(年级内,越高越好)", "now_vs_last": "知识点得分率:本次 vs 上次", "now": "本次",
           "last": "上次", "strengths": "稳定优势(两次及以上考试均不低于年级)",
           "lasting_weak": "持续薄弱(两次及以上考试均低于年级)", "none_steady": "暂无", "this_exam": "本次相关题目",
           "portrait_note": "按学籍号对应各次考试;百分等级 = 100×(低于本人人数 + 0.5×同分人数)/该次实考人数,"
                            "不同考试的分数不能直接比较,请看百分等级。",
           "theta": "能力值θ", "scale": "量尺分", "scale_trend": "量尺分走势(经共同题链接,各次可直接比较)",
           "linked_note": "能力值θ与量尺分:各次考试经共同题换算到“{base}”的量尺(方法:{method}),"
                          "量尺分 = 500 + 100×θ/σ(σ 为首次考试的能力标准差),升高表示进步。",
           "unlinked_note": "未做共同题链接(只看百分等级):{reason}"},
    "en": {"title": "Student diagnosis report", "name": "Name", "exam_id": "Exam ID", "class": "Class",
           "school": "School", "total": "Total", "full": "Full marks", "class_rank": "Class rank",
           "grade_rank": "Grade rank", "pr": "Percentile rank", "t": "T score", "band": "Band",
           "rank_band": "Grade position", "section": "Section", "score": "Score", "grade_mean": "Grade mean",
           "profile": "Knowledge-point rates (student vs grade)", "point": "Point", "you": "Student",
           "grade": "Grade", "mastery": "Mastery", "weakest": "Weakest points (below the grade) and their questions",
           "lost": "Questions that lost most points", "none": "none: no point below the grade",
           "advice": "Review these points first and correct the matching questions.",
           "note": "rate = score / points (shared by blueprint weights); PR = 100 * (below + 0.5 * equal) / N; "
                   "T = 50 + 10 z within the grade.",
           "mastery_rate": "Mastery: the student's rate pulled toward the class's (more when few questions test the "
                           "point), with its {level}% credible interval.",
           "mastery_dina": "Mastery: how likely the point is mastered, judged from which questions were right "
                           "(a cognitive diagnosis model that passed its fit test); † where the model disagreed "
                           "with the student's rate, the rate-based estimate is shown, with its {level}% interval.",
           "mastery_tech": "Technical: beta-binomial empirical-Bayes shrinkage; DINA fit test: mean item RMSEA "
                           "(used when <= {cut}), here {rmsea}.",
           "item_line": "{q} {score}/{points} (grade {rate})", "top": "top", "bottom": "bottom", "points": "pts",
           "portrait": "Progress profile", "student_no": "Student No.", "exam": "Exam", "not_sat": "not sat",
           "pr_trend": "Percentile rank in the grade", "now_vs_last": "Knowledge points: this exam vs last",
           "now": "This exam", "last": "Last exam", "strengths": "Steady strengths (at or above the grade twice or more)",
           "lasting_weak": "Lasting weak points (below the grade twice or more)", "none_steady": "none yet",
           "this_exam": "this exam's questions",
           "portrait_note": "Exams linked by student number; percentile rank = 100 * (below + 0.5 * equal) / N of "
                            "that exam: scores of different exams are not comparable, percentile ranks are.",
           "theta": "Ability θ", "scale": "Scale score", "scale_trend": "Scale score (linked, comparable)",
           "linked_note": "Ability θ and scale score: every exam put on the scale of {base} through common items "
                          "({method}); scale score = 500 + 100 θ / σ (σ the first exam's ability SD); higher is "
                          "growth.",
           "unlinked_note": "Not linked through common items (percentile ranks only): {reason}"},
}

_RANK_BANDS = (10, 25, 50, 75, 100)


def rank_band(percentile_rank: float) -> int:
    """The 'top p %' band of a percentile rank: 10, 25, 50, 75 or 100 (top share = 100 - PR)."""
    top = 100.0 - float(percentile_rank)
    for limit in _RANK_BANDS:
        if top <= limit + 1e-9:
            return limit
    return 100


def _profile_chart(names: Sequence[str], student: np.ndarray, grade: np.ndarray, labels: tuple[str, str],
                   width: float, font: str):
    """Horizontal bars: the student's and the grade's rate on each knowledge point (0–100 %)."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    k = len(names)
    bar_area = max(60, 16 * k)
    drawing = Drawing(width, bar_area + 40)
    chart = HorizontalBarChart()
    chart.x, chart.y = 110, 25
    chart.width, chart.height = width - 130, bar_area
    # reportlab draws the first category at the bottom: reverse so the list reads top-down like the blueprint
    chart.data = [[100 * float(v) if np.isfinite(v) else 0.0 for v in student[::-1]],
                  [100 * float(v) if np.isfinite(v) else 0.0 for v in grade[::-1]]]
    chart.categoryAxis.categoryNames = list(names)[::-1]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 8
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = "%d%%"
    chart.bars[0].fillColor = colors.HexColor("#2F6EBA")
    chart.bars[1].fillColor = colors.HexColor("#BFBFBF")
    chart.barSpacing, chart.groupSpacing = 1, 4
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 110, 12
    legend.fontName, legend.fontSize = font, 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.deltax = 70
    legend.colorNamePairs = [(chart.bars[0].fillColor, labels[0]), (chart.bars[1].fillColor, labels[1])]
    drawing.add(legend)
    return drawing


def write_student_reports(analysis: Analysis, path: str | Path, class_index: int, *, lang: str | None = None,
                          lost_questions: int = 5) -> tuple[Path, int]:
    """Write the diagnosis reports of every graded student of ``analysis.classes[class_index]`` to one PDF.

    With earlier exams (``analysis.progress``) each student linked by 学籍号 gets a second page, the 数字画像.
    Returns (path, pages): one page per student plus one per 数字画像.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (KeepInFrame, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table,
                                    TableStyle)

    lang = lang or analysis.config.lang
    words = _T[lang]
    font = cjk_font_name()
    data, s, schools = analysis.data, analysis.students, analysis.schools
    members = np.flatnonzero(s.class_index == class_index)
    order = members[np.argsort(data.exam_ids[s.rows[members]].astype(str), kind="stable")]
    bp = analysis.blueprint
    performance = band_names("performance", lang)

    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20, spaceAfter=4)
    normal = ParagraphStyle("normal", fontName=font, fontSize=9.5, leading=13)
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10, textColor=colors.HexColor("#555555"))
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page_w, page_h = A4
    margin = 15 * mm
    frame_w, frame_h = page_w - 2 * margin, page_h - 2 * margin
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=f"{data.exam.name or data.exam.id} {words['title']}",
                            author="yuejuan")
    grid = TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
                       ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BFBFBF")),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
                       ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
    story: list = []
    full = data.full_marks
    pages = len(order)
    record = analysis.progress.record if analysis.progress is not None else None
    portraits = ({str(no): k for k, no in enumerate(record.student_nos.tolist())}
                 if record is not None and len(record.labels) >= 2 else {})
    for page, i in enumerate(order.tolist()):
        r = s.rows[i]
        g = s.school_index[i]
        content: list = [
            Paragraph(f"{data.exam.name or data.exam.id} · {words['title']}", title),
            Paragraph(f"{words['name']}: {data.names[r]}    {words['exam_id']}: {data.exam_ids[r]}    "
                      f"{words['class']}: {data.classes[r]}    {words['school']}: {analysis.config.school_name(data.schools[r]) or '-'}", normal),
            Spacer(1, 4),
        ]
        position = _position(float(s.grade_pr[i]), words)
        ranks = ([words["class_rank"], words["grade_rank"]], [f"{s.class_rank[i]}/{s.class_size[i]}",
                                                               f"{s.grade_rank[i]}/{s.grade_size[i]}"])
        if not analysis.show_ranks:
            ranks = ([], [])
        facts = [[words["total"], words["full"], words["band"], *ranks[0], words["rank_band"], words["pr"],
                  words["t"]],
                 [f"{s.total[i]:g}", f"{full:g}", performance[s.band[i]], *ranks[1], position,
                  f"{s.grade_pr[i]:.1f}", f"{s.t[i]:.1f}" if np.isfinite(s.t[i]) else "-"]]
        table = Table(facts, colWidths=[frame_w / len(facts[0])] * len(facts[0]))
        table.setStyle(grid)
        content.append(table)
        if data.section_ids:
            rows = [[words["section"], words["score"], words["grade_mean"]]]
            for k, name in enumerate(data.section_names):
                rows.append([name, f"{data.section_totals[r, k]:g}", f"{schools.section_means[g, k]:.1f}"])
            content += [Spacer(1, 6), _fixed_table(rows, [frame_w * 0.5, frame_w * 0.25, frame_w * 0.25], grid)]
        if bp.point_ids:
            names = [name or pid for pid, name in zip(bp.point_ids, bp.point_names)]
            content += [Paragraph(words["profile"], heading),
                        _profile_chart(names, s.knowledge_rates[i], schools.knowledge_rates[g],
                                       (words["you"], words["grade"]), frame_w, font)]
            rows = [[words["point"], words["you"], words["grade"], words["mastery"]]]
            for t, name in enumerate(names):
                rate, ref = s.knowledge_rates[i, t], schools.knowledge_rates[g, t]
                rows.append([name, _pct(rate), _pct(ref), _mastery_cell(s.mastery, i, t)])
            content.append(_fixed_table(rows, [frame_w * 0.4, frame_w * 0.16, frame_w * 0.16, frame_w * 0.28],
                                        grid, size=8))
            weak = [t for t, gap in zip(s.weakest[i].tolist(), s.weakest_gaps[i].tolist())
                    if np.isfinite(gap) and gap < 0]
            content.append(Paragraph(words["weakest"], heading))
            for t in weak:
                questions = "、".join(
                    words["item_line"].format(q=data.item_ids[j], score=f"{data.scores[r, j]:g}",
                                              points=f"{data.points[j]:g}",
                                              rate=_pct(schools.item_rates[g, j]))
                    for j in np.flatnonzero(bp.weights[:, t] > 0).tolist())
                gap = s.weakest_gaps[i][s.weakest[i].tolist().index(t)]
                content.append(Paragraph(f"{bp.point_names[t] or bp.point_ids[t]} ({100 * gap:+.0f}%): {questions}",
                                         normal))
            content.append(Paragraph(words["advice"] if weak else words["none"], normal))
        lost = data.points - data.scores[r]
        worst = [j for j in np.argsort(-lost, kind="stable")[:lost_questions].tolist() if lost[j] > 0]
        if worst:
            content += [Paragraph(words["lost"], heading),
                        Paragraph(", ".join(f"{data.item_ids[j]} ({data.scores[r, j]:g}/{data.points[j]:g})"
                                            for j in worst), normal)]
        content += [Spacer(1, 8), Paragraph(words["note"], small)]
        if s.mastery is not None and bp.point_ids:
            m = s.mastery
            level = f"{100 * m.level:.0f}"
            content += [Paragraph(words["mastery_dina" if m.dina_used else "mastery_rate"].format(level=level),
                                  small),
                        Paragraph(words["mastery_tech"].format(cut=DINA_RMSEA_GOOD, rmsea=f"{m.rmsea:.3f}"
                                                               if np.isfinite(m.rmsea) else "-"), small)]
        # shrink rather than spill: one student, one page, whatever the number of knowledge points
        story.append(KeepInFrame(frame_w, frame_h - 2, content, mode="shrink"))
        linked = portraits.get(str(data.student_nos[r])) if portraits else None
        if linked is not None:
            story += [PageBreak(), KeepInFrame(frame_w, frame_h - 2, _portrait(
                analysis, linked, r, words, frame_w, font, (title, normal, small, heading, grid)), mode="shrink")]
            pages += 1
        if page < len(order) - 1:
            story.append(PageBreak())
    if not story:
        story.append(Paragraph("-", normal))
    doc.build(story)
    return path, max(pages, 1)


def _portrait(analysis: Analysis, k: int, row: int, words: dict[str, str], width: float, font: str, styles):
    """数字画像: the student's total, percentile and rank in every exam, the knowledge points now against last
    time, steady strengths and lasting weak points with this exam's questions behind each."""
    from reportlab.platypus import Paragraph, Spacer

    title, normal, small, heading, grid = styles
    record, data, bp = analysis.progress.record, analysis.data, analysis.blueprint
    strengths, weak = steady_points(record)
    content = [Paragraph(f"{data.names[row]} · {words['portrait']}", title),
               Paragraph(f"{words['student_no']}: {record.student_nos[k]}", normal), Spacer(1, 4)]
    ranks, linked = analysis.show_ranks, record.linked_theta
    rows = [[words["exam"], words["total"], words["pr"], *([words["grade_rank"]] if ranks else []),
             *([words["theta"], words["scale"]] if linked else [])]]
    for e, label in enumerate(record.labels):
        sat = np.isfinite(record.totals[k, e])
        on_scale = np.isfinite(record.theta[k, e]) if linked else False
        rows.append([label, f"{record.totals[k, e]:g}" if sat else words["not_sat"],
                     f"{record.percentile[k, e]:.1f}" if sat else "-",
                     *([f"{record.ranks[k, e]:.0f}" if sat else "-"] if ranks else []),
                     *([f"{record.theta[k, e]:+.2f}" if on_scale else "-",
                        f"{record.scale_scores[k, e]:.0f}" if on_scale else "-"] if linked else [])])
    content.append(_fixed_table(rows, [width * 0.4] + [width * 0.6 / (len(rows[0]) - 1)] * (len(rows[0]) - 1),
                                grid))
    content += [Paragraph(words["pr_trend"], heading),
                _trend_chart(record.labels, record.percentile[k], (0, 100, 25), width, font)]
    if linked:
        from analytics.linking import METHOD_NAMES

        scale = record.scale_scores[k]
        shown = scale[np.isfinite(scale)]
        low, high = (100 * np.floor(shown.min() / 100), 100 * np.ceil(shown.max() / 100)) if shown.size else (0, 1)
        content += [Paragraph(words["scale_trend"], heading),
                    _trend_chart(record.labels, scale, (low, max(high, low + 100), 50), width, font),
                    Paragraph(words["linked_note"].format(base=record.labels[0],
                                                          method=METHOD_NAMES[record.linking.method]), small)]
    elif record.linking is not None or record.linking_note:
        reason = record.linking_note or record.linking.links[-1].reason
        if reason:
            content.append(Paragraph(words["unlinked_note"].format(reason=reason), small))
    both = [t for t in range(len(record.point_ids))
            if np.isfinite(record.knowledge[k, -1, t]) and np.isfinite(record.knowledge[k, -2, t])]
    if both:
        content += [Paragraph(words["now_vs_last"], heading),
                    _profile_chart([record.point_names[t] for t in both], record.knowledge[k, -1, both],
                                   record.knowledge[k, -2, both], (words["now"], words["last"]), width, font)]
    content.append(Paragraph(words["strengths"], heading))
    names = [record.point_names[t] for t in np.flatnonzero(strengths[k]).tolist()]
    content.append(Paragraph("、".join(names) if names else words["none_steady"], normal))
    content.append(Paragraph(words["lasting_weak"], heading))
    lasting = np.flatnonzero(weak[k]).tolist()
    for t in lasting:
        point = record.point_ids[t]
        column = bp.point_ids.index(point) if point in bp.point_ids else None
        questions = "、".join(f"{data.item_ids[j]} ({data.scores[row, j]:g}/{data.points[j]:g})"
                             for j in (np.flatnonzero(bp.weights[:, column] > 0).tolist() if column is not None
                                       else []))
        rates = " → ".join(_pct(v) for v in record.knowledge[k, :, t] if np.isfinite(v))
        content.append(Paragraph(f"{record.point_names[t]}: {rates}" + (f"; {words['this_exam']}: {questions}"
                                                                        if questions else ""), normal))
    if not lasting:
        content.append(Paragraph(words["none_steady"], normal))
    content += [Spacer(1, 8), Paragraph(words["portrait_note"], small)]
    return content


def _trend_chart(labels: Sequence[str], values: np.ndarray, axis: tuple[float, float, float], width: float,
                 font: str):
    """One student's line across the exams (NaN: a gap), the value axis (min, max, step)."""
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    drawing = Drawing(width, 120)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 20, width - 60, 90
    chart.data = [[float(v) if np.isfinite(v) else None for v in values]]
    chart.categoryAxis.categoryNames = list(labels)
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = axis
    chart.lines[0].strokeColor = colors.HexColor("#2F6EBA")
    chart.lines[0].strokeWidth = 1.5
    drawing.add(chart)
    return drawing


def _position(percentile_rank: float, words: dict[str, str]) -> str:
    """Where the student stands in the grade, unambiguously: 前 10 % .. 前 50 % in the upper half, 后 50 % .. 后
    10 % in the lower (the band holding the student)."""
    top = rank_band(percentile_rank)
    if top <= 50:
        return f"{words['top']} {top}%"
    bottom = next(limit for limit in (10, 25, 50) if percentile_rank <= limit + 1e-9)  # top > 50: PR below 50
    return f"{words['bottom']} {bottom}%"


def _mastery_cell(mastery, student: int, point: int) -> str:
    """The mastery figure: the DINA probability, or the shrunken rate with its interval (marked † when it
    replaces a DINA figure that contradicted the rate)."""
    if mastery is None:
        return "-"
    value = mastery.value[student, point]
    if not np.isfinite(value):
        return "-"
    source = MASTERY_SOURCES[mastery.source[student, point]]
    if source == "dina":
        return _pct(value)
    mark = "†" if source == "rate_conflict" else ""
    low, high = mastery.low[student, point], mastery.high[student, point]
    return f"{_pct(value)}{mark} ({100 * low:.0f}–{100 * high:.0f}%)"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%" if np.isfinite(value) else "-"


def _fixed_table(rows: list[list[str]], widths: list[float], style, size: float = 9):
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths)
    table.setStyle(style)
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), size)]))
    return table
