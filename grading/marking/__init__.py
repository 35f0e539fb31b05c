"""网上阅卷 (online marking of written answers): the rules, with no storage and no HTTP.

* :mod:`grading.marking.rules` — a question's set-up (full marks, score step, 双评 and its 误差阈值, the
  final-score rule), checking a score against it, and what an answer needs next (a second marker, 三评, 仲裁)
  or its final score;
* :mod:`grading.marking.quality` — supervision figures: each marker's mean and spread against the group, the
  agreement rate with the co-marker, 自评 consistency;
* :mod:`grading.marking.assign` — which crops a marker may be given and when a 自评 paper is due.

The service (``api/service/marking.py``) stores tasks and scores and calls these functions.
"""

from grading.marking.assign import self_check_due, self_check_pick
from grading.marking.quality import MarkerFigures, agreement_rate, marker_figures, self_consistency
from grading.marking.rules import (FINAL_RULES, Decision, MarkingRules, SetupError, decide, score_problem,
                                   validate_rules)

__all__ = ["FINAL_RULES", "Decision", "MarkingRules", "SetupError", "decide", "score_problem", "validate_rules",
           "MarkerFigures", "agreement_rate", "marker_figures", "self_consistency", "self_check_due",
           "self_check_pick"]
