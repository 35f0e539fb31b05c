"""yuejuan analytics: score analysis (成绩分析), item analysis (试卷分析) and knowledge-point diagnosis (知识点诊断).

Statistics are pure functions over numpy arrays; files are touched only at the edges.

:mod:`analytics.load`
    ``yuejuan grade`` output (or a GradingRun) -> :class:`analytics.model.ExamData`.
:mod:`analytics.scores`, :mod:`analytics.items`, :mod:`analytics.diagnosis`, :mod:`analytics.groups`
    The statistics, each named after its standard definition (``docs/statistics.md``).
:mod:`analytics.analysis`
    :func:`~analytics.analysis.analyse`: every statistic for every class, school and the city at once.
:mod:`analytics.report_json`, :mod:`analytics.workbook`, :mod:`analytics.student_report`, :mod:`analytics.reports`
    analytics.json, the xlsx reports, the per-student PDFs, and writing a level's set of them.
:mod:`analytics.simulate`
    Simulated marks for tests and ``benchmarks/analytics_scale.py``.

Typical use::

    from analytics.analysis import analyse
    from analytics.load import load_grade_output
    from analytics.reports import write_reports
    from grading.exam import load_exam

    analysis = analyse(load_grade_output("marks", load_exam("math.json")))
    write_reports(analysis, "reports", level="class", students_pdf=True)
"""
