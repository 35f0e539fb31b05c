"""Shared test set-up.

``omr`` must be imported before anything imports cv2: it sets OpenCV's decoder pixel limit, which OpenCV reads
once, when it loads. Importing it here, before any test module, keeps that true for the whole run.
"""

import omr  # noqa: F401
