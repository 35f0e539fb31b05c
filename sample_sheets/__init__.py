"""Sample answer-sheet templates, printable sheets and the scan simulator."""

from __future__ import annotations

from pathlib import Path

from omr.template import Template, TemplateError, load_template

__all__ = ["TEMPLATES_DIR", "bundled_templates", "resolve_template"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def bundled_templates() -> list[str]:
    """Names of the sample templates shipped with yuejuan."""
    return sorted(path.stem for path in TEMPLATES_DIR.glob("*.json"))


def resolve_template(name_or_path: str | Path) -> Template:
    """Load a template from a JSON path, or by the name of a bundled sample template (``cn-a4-55``)."""
    path = Path(name_or_path)
    if path.is_file():
        return load_template(path)
    bundled = TEMPLATES_DIR / f"{name_or_path}.json"
    if bundled.is_file():
        return load_template(bundled)
    if path.exists():
        return load_template(path)  # a folder or other non-file: let the loader say why it cannot be read
    raise TemplateError(
        f"no template file {name_or_path!s}; bundled templates: {', '.join(bundled_templates())}"
    )
