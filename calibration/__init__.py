"""yuejuan calibration."""
