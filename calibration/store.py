"""A folder of versioned scanner profiles, one sub-folder per station: every version kept, one active, a history.

Layout: ``ROOT/<station>/v0001.json`` ... (profiles as :func:`omr.profile.save_profile` writes them),
``ROOT/<station>/active`` (the active version's number) and ``ROOT/<station>/history.jsonl`` (one JSON object per
event: a version saved, with its fit report, or activated). A version file is never rewritten: a new fit is a new
version, and going back is activating an older one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from omr.profile import ScannerProfile, load_profile, profile_to_dict

__all__ = ["DEFAULT_STORE", "ProfileStore", "check_station"]

#: The store's folder when none is given: ``YUEJUAN_PROFILE_STORE``, else ``~/.yuejuan/profiles``.
DEFAULT_STORE = "YUEJUAN_PROFILE_STORE"
_STATION = re.compile(r"[^\W_][\w.-]{0,63}")  # letters (Chinese too), digits, _ . - ; no path separators
_VERSION_FILE = re.compile(r"v(\d{4,})\.json")


def check_station(name: str) -> str:
    """``name`` when it can name a station's folder, else ValueError saying what is allowed."""
    if not isinstance(name, str) or not _STATION.fullmatch(name):
        raise ValueError(f"station name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a "
                         "letter or digit")
    return name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ProfileStore:
    """Versions of each station's profile under ``root`` (see the module doc)."""

    def __init__(self, root: str | Path | None = None) -> None:
        if root is None:
            root = os.environ.get(DEFAULT_STORE) or Path.home() / ".yuejuan" / "profiles"
        self.root = Path(root)

    def _folder(self, station: str) -> Path:
        return self.root / check_station(station)

    def stations(self) -> list[str]:
        """Stations with at least one saved version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _STATION.fullmatch(p.name)
                      and self.versions(p.name))

    def versions(self, station: str) -> list[int]:
        """The station's saved version numbers, oldest first."""
        folder = self._folder(station)
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_FILE.fullmatch(p.name)))

    def load(self, station: str, version: int) -> ScannerProfile:
        """One saved version (ValueError when there is no such version)."""
        path = self._folder(station) / f"v{version:04d}.json"
        if not path.is_file():
            raise ValueError(f"station {station!r} has no profile version {version}")
        return load_profile(path)

    def active_version(self, station: str) -> int | None:
        """The active version's number, or None when none is active."""
        path = self._folder(station) / "active"
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8").strip()
        if not text.isdigit():
            raise ValueError(f"{path} is damaged: {text[:20]!r} is not a version number")
        return int(text)

    def active(self, station: str) -> ScannerProfile | None:
        """The station's active profile, or None when none is active."""
        version = self.active_version(station)
        return None if version is None else self.load(station, version)

    def save(self, station: str, profile: ScannerProfile, *, activate: bool, report: dict | None = None
             ) -> ScannerProfile:
        """Store ``profile`` as the station's next version (named after the station) and record it in the history;
        make it the active one when ``activate``. Returns the profile as stored."""
        folder = self._folder(station)
        folder.mkdir(parents=True, exist_ok=True)
        version = (self.versions(station) or [0])[-1] + 1
        while True:  # another process may take the same number: the file is created exclusively
            stored = replace(profile, name=station, version=version, created_at=profile.created_at or _now())
            try:
                with open(folder / f"v{version:04d}.json", "x", encoding="utf-8") as out:
                    out.write(json.dumps(profile_to_dict(stored), indent=1, ensure_ascii=False) + "\n")
                break
            except FileExistsError:
                version += 1
        self._log(station, {"event": "saved", "version": version, "source": stored.source,
                            "activated": activate, "report": report})
        if activate:
            self.activate(station, version)
        return stored

    def activate(self, station: str, version: int) -> None:
        """Make a saved version the active one (also to go back to an older one)."""
        self.load(station, version)  # refuses a version that does not exist or does not load
        folder = self._folder(station)
        temporary = folder / f".active.{os.getpid()}"
        temporary.write_text(f"{version}\n", encoding="utf-8")
        os.replace(temporary, folder / "active")  # readers see the old or the new number, never half of one
        self._log(station, {"event": "activated", "version": version})

    def history(self, station: str) -> list[dict]:
        """The station's events, oldest first."""
        path = self._folder(station) / "history.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _log(self, station: str, event: dict) -> None:
        line = json.dumps({"at": _now(), **event}, ensure_ascii=False)
        with open(self._folder(station) / "history.jsonl", "a", encoding="utf-8") as out:
            out.write(line + "\n")
