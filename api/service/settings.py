"""Every setting of the service, read from ``YUEJUAN_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Service settings.

    ``database_url`` defaults to SQLite in ``data_dir``; ``postgresql+psycopg://user:pw@host/db`` switches to
    PostgreSQL. ``dask_scheduler`` (``tcp://host:8786``) sends OMR work to a Dask cluster instead of local
    worker processes.
    """

    model_config = SettingsConfigDict(env_prefix="YUEJUAN_", env_file=".env", extra="ignore")

    data_dir: Path = Path("yuejuan_data")
    database_url: str | None = None
    dask_scheduler: str | None = None
    workers: int = Field(default=2, ge=0, description="local OMR worker processes started by `yuejuan serve`")
    lease_seconds: float = Field(default=60.0, gt=0, description="a claimed job returns to the queue after this")
    poll_seconds: float = Field(default=0.2, gt=0, description="how often an idle worker looks for jobs")
    stop_seconds: float = Field(default=10.0, gt=0, description="after SIGTERM/SIGINT `yuejuan serve` and its "
                                                                "workers are gone within this")
    max_attempts: int = Field(default=3, ge=1, description="a job failing this often is marked failed")
    token_hours: float = Field(default=12.0, gt=0, description="teacher bearer tokens expire after this")
    login_max_failures: int = Field(default=5, ge=1, description="wrong passwords in a row that lock an account")
    login_lock_minutes: float = Field(default=15.0, gt=0, description="how long a locked account stays locked")
    login_address_max_failures: int = Field(default=30, ge=1, description="failed log-ins from one address within "
                                            "the window after which it is refused (429) whatever name it tries")
    login_address_window_minutes: float = Field(default=15.0, gt=0, description="the window of that count")
    # Upload limits (等保: bounded input everywhere).
    max_request_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_files_per_batch: int = Field(default=2000, gt=0)
    max_zip_members: int = Field(default=2000, gt=0)
    max_zip_ratio: float = Field(default=200.0, gt=1, description="uncompressed/compressed size above which a zip "
                                                                  "member is refused as a bomb")
    max_image_pixels: int = Field(default=60_000_000, gt=0)
    max_decoded_bytes: int = Field(default=256 * 1024 * 1024, gt=0, description="memory one page may take while "
                                                                                "it is decoded (omr.load.LoadLimits)")
    max_pdf_pages: int = Field(default=500, gt=0)
    max_pdf_page_mm: float = Field(default=600.0, gt=0)
    # Learning a station's scanner profile from review corrections runs inside the request: bounded.
    learn_max_pages: int = Field(default=60, ge=4, le=2000, description="reviewed pages at most that one "
                                 "POST /profiles/learn re-measures (the newest first)")

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in use (SQLite under ``data_dir`` unless ``database_url`` is set)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yuejuan.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def load_limits(self):
        """The :class:`omr.load.LoadLimits` every uploaded file is read under."""
        from omr.load import LoadLimits

        return LoadLimits(max_file_bytes=self.max_file_bytes, max_pixels=self.max_image_pixels,
                          max_pages=self.max_pdf_pages, max_pdf_page_mm=self.max_pdf_page_mm,
                          max_decoded_bytes=self.max_decoded_bytes)
