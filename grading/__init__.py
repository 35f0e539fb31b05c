"""yuejuan grading."""
