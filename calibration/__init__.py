"""Scanner calibration: learn a station's :class:`omr.profile.ScannerProfile` from its own print and from review.

One job per module:

- :mod:`calibration.sources` - scan files read and registered by OMR (the I/O edge), labelled when labels exist;
- :mod:`calibration.labels` - a registered page's bubbles measured as the reader measures them, with their truth;
- :mod:`calibration.blank` - each bubble's print baseline from a blank printed sheet or a marked batch;
- :mod:`calibration.evaluate` - OMR's decision re-run on labelled pages under a profile, flags and errors counted;
- :mod:`calibration.fit` - print baseline and thresholds fitted to labelled pages, judged on held-back ones;
- :mod:`calibration.store` - versions of each station's profile in a folder, the active one, the history.

``profiles/default.json`` is the default profile written out. OMR never imports this package: it only reads
the profiles it writes.
"""

from pathlib import Path

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
