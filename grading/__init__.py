"""Marking: exams and answer keys, rosters, matching sheets to students, vectorised scoring and regrading.

Modules, in the order a marking run uses them:

- :mod:`grading.exam` -- the exam model (questions, rules, paper versions, blueprint) and its JSON;
- :mod:`grading.exam_io` -- keys and blueprints in xlsx/CSV (import with row errors, blank workbook, export);
- :mod:`grading.roster` -- students and id validation (考号, 学籍号, 学校标识码), xlsx/CSV import;
- :mod:`grading.sheets` -- sheets from ``yuejuan scan`` output or a plain responses table;
- :mod:`grading.corrections` -- reviewer corrections for doubtful readings;
- :mod:`grading.match` -- sheets to students, with the exceptions (异常卷) and their reasons;
- :mod:`grading.mark` -- readings as arrays, rules as lookup tables, scores, totals, 总分 across subjects;
- :mod:`grading.regrade` -- key changes applied to graded results, with an append-only change log;
- :mod:`grading.pipeline` -- all of the above for one exam (:func:`grading.pipeline.grade_sheets`);
- :mod:`grading.report_io` -- scores.csv, scores.xlsx, grading_exceptions.csv, summary.json.

``grading`` reads :mod:`omr` results but never imports ``api``, ``analytics`` or ``sample_sheets``.
"""
