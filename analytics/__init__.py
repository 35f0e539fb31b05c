"""yuejuan analytics."""
