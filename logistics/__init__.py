"""Before the exam: 考场编排 (rooms, seats and 考号 from a roster) and the papers proctors need.

:mod:`logistics.arrange` seats a roster into rooms (pure rules: capacities, a seeded mix that keeps classmates
apart, 考号 from a configurable format); :mod:`logistics.exam_ids` checks that format; :mod:`logistics.tables`
writes the arrangement and the renumbered roster as CSV/xlsx; :mod:`logistics.printouts` prints door lists, seat
labels, sign-in sheets (签到表) and the proctor's absence list (缺考登记表) as PDF.
"""
