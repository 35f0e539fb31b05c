"""The teachers' web pages (阅卷 in a browser): server-rendered Jinja2 pages at ``/``, cookie sessions with CSRF
tokens, and every asset (scripts, styles, Swagger UI) served by yuejuan itself, so the pages work on an intranet.

Pages reuse the API's machinery: each page route declares ``deps.permit``/``deps.public`` like an API route, the
gate authenticates it (from the session cookie instead of a header) before any body is read, and pages call the
API's own route functions for everything they read or write, so isolation, roles and the audit log are the same.
"""

from api.web.guard import WebGuard, is_page_path
from api.web.pages import include_pages

__all__ = ["WebGuard", "include_pages", "is_page_path"]
