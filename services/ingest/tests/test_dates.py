"""Wire dates to aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.dates import is_no_date, to_utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-08-25T04:41:35+0000", datetime(2017, 8, 25, 4, 41, 35, tzinfo=UTC)),
        ("20161011T001327+0100", datetime(2016, 10, 10, 23, 13, 27, tzinfo=UTC)),
        ("2016-04-13 04:52:21+00:00", datetime(2016, 4, 13, 4, 52, 21, tzinfo=UTC)),
        ("2014-07-17T00:24:11.000Z", datetime(2014, 7, 17, 0, 24, 11, tzinfo=UTC)),
        ("2018-10-19T11:45:00-04:00", datetime(2018, 10, 19, 15, 45, tzinfo=UTC)),
        ("2018-05-28T16:40:08", datetime(2018, 5, 28, 16, 40, 8, tzinfo=UTC)),
        ("Wed, 29 May 2019 10:16:00 GMT", datetime(2019, 5, 29, 10, 16, tzinfo=UTC)),
        ("Mon, 06 Sep 2010 00:01:00 EST", datetime(2010, 9, 6, 5, 1, tzinfo=UTC)),
        ("03 Apr 02 1500 GMT", datetime(2002, 4, 3, 15, 0, tzinfo=UTC)),
        ("2020/1/10 14:33:00", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
        ("2014-07-17 00:24:11 GMT+02:00", datetime(2014, 7, 16, 22, 24, 11, tzinfo=UTC)),
        ("29.06.2017 16:38 CEST", datetime(2017, 6, 29, 14, 38, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:00:00 HST", datetime(2024, 1, 2, 20, 0, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:00:00 CEST", datetime(2024, 1, 2, 8, 0, tzinfo=UTC)),
        ("Jan 2, 2024 10:00 PM EST", datetime(2024, 1, 3, 3, 0, tzinfo=UTC)),
    ],
)
def test_dates_become_aware_utc(value: str, expected: datetime):
    assert to_utc(value) == expected


@pytest.mark.parametrize(
    "value",
    ["YYYYMMDD000000-HHMM", "Next Monday", "Monday", "1500", "0000-00-00", "2020-02-30", "", None,
     "2024-01-02 10:00 ET", "Tue, 02 Jan 2024 10:00:00 XYZT"],  # zones it cannot place
)
def test_garbage_and_placeholders_are_none(value: str | None):
    assert to_utc(value) is None


def test_placeholders_mean_no_date_but_free_text_does_not():
    assert is_no_date("YYYYMMDD000000-HHMM")
    assert is_no_date("0000-00-00T00:00:00")
    assert is_no_date("  ")
    assert not is_no_date("Next Monday")
