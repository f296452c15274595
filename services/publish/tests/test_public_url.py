"""NEWSFLOW_PUBLIC_URL: where absolute links start; the bound address when unset."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from publish.settings import PublishSettings


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("0.0.0.0", 8003, "http://localhost:8003"),
    ("127.0.0.1", 9000, "http://127.0.0.1:9000"),
    ("::1", 8003, "http://[::1]:8003"),
])
def test_unset_it_is_the_bound_address(host: str, port: int, expected: str) -> None:
    assert PublishSettings(http_host=host, http_port=port).base_url == expected


def test_set_it_is_used_as_given_without_a_trailing_slash() -> None:
    settings = PublishSettings(public_url=" https://news.example.com/newsflow/ ")
    assert settings.base_url == "https://news.example.com/newsflow"


@pytest.mark.parametrize("bad", ["news.example.com", "ftp://news.example.com",
                                 "https://news.example.com/?a=1", "https://user:pw@news.example",
                                 "https://news.example.com/#top", "https://"])
def test_anything_but_an_absolute_http_url_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        PublishSettings(public_url=bad)
