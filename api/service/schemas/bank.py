"""The school's item bank (题库) as the service tells about it: never the bank itself."""

from __future__ import annotations

import datetime as dt

from api.service.schemas.common import Output

__all__ = ["BankPublic"]


class BankPublic(Output):
    """The school's current item bank: how many items, when and by whom it was uploaded."""

    school_id: str
    sha256: str
    items: int
    uploaded_at: dt.datetime
    uploaded_by: str
