"""Scanner calibration: profiles of decision parameters that :mod:`omr` reads as plain data.

``profiles/default.json`` is the default :class:`omr.profile.ScannerProfile` written out; a later issue learns
profiles from labelled scans of each school's scanner.
"""

from pathlib import Path

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
