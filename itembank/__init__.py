"""题库: the item bank — items with stems, options, keys, blueprint labels and statistics from past use.

Dependencies point one way: ``itembank`` uses ``grading`` (question types, exams) and ``omr`` (sheet templates);
``analytics`` and ``api`` use ``itembank``.
"""
