"""The SSRF guard: only public http(s) targets, unless the URL's own host is allowed."""

from __future__ import annotations

import ipaddress

import pytest

from shared.egress import EgressPolicy, EgressRefused


def resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]
    return resolve


DNS = resolver({
    "public.example": ["93.184.215.14"],
    "internal.example": ["10.0.0.7"],
    "mixed.example": ["93.184.215.14", "127.0.0.1"],  # one bad answer is enough to refuse
    "metadata.example": ["169.254.169.254"],
    "v6.example": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "sixtofour.example": ["2002:7f00:1::1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "localhost": ["127.0.0.1", "::1"],
})


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::1]/",
    "http://0.0.0.0/", "http://224.0.0.1/", "http://100.64.0.1/", "http://240.0.0.1/",
    "http://internal.example/", "http://mixed.example/", "http://metadata.example/",
    "http://mapped.example/", "http://localhost:8080/", "http://[::ffff:10.0.0.1]/",
])
async def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused):
        await EgressPolicy([], DNS).check(url)


@pytest.mark.parametrize("url", [
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 of the metadata address
    "http://[fec0::1]/",  # deprecated site-local
    "http://[fed0:1:2::3]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::c0a8:101]/",  # NAT64 of 192.168.1.1
    "http://[64:ff9b:1::808:808]/",  # local-use NAT64: what it reaches is the operator's
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[::8.8.8.8]/",
    "http://[::ffff:7f00:1]/",  # IPv4-mapped, hex form
    "http://sixtofour.example/", "http://nat64.example/",
])
async def test_ipv6_forms_that_carry_an_internal_ipv4_address_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused):
        await EgressPolicy([], DNS).check(url)


@pytest.mark.parametrize("url", ["http://[2002:808:808::1]/", "http://[64:ff9b::808:808]/",
                                 "http://[::ffff:8.8.8.8]/"])
async def test_ipv6_forms_that_carry_a_public_ipv4_address_pass(url: str) -> None:
    target = await EgressPolicy([], DNS).check(url)
    assert ipaddress.ip_address(target.ip) == ipaddress.ip_address(url[8:-2])


async def test_metadata_is_named_as_such() -> None:
    with pytest.raises(EgressRefused, match="metadata"):
        await EgressPolicy([], DNS).check("http://169.254.169.254/")


@pytest.mark.parametrize("url", ["ftp://public.example/", "file:///etc/passwd",
                                 "http://user:pw@public.example/", "http:///nohost",
                                 "http://nowhere.example/", "https://public.example/hook\x00",
                                 "https://public.example/ho\nok", "https://public.example/a b",
                                 "https://public.example:99999/"])
async def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused):
        await EgressPolicy([], DNS).check(url)


async def test_public_targets_are_pinned_to_the_checked_address() -> None:
    target = await EgressPolicy([], DNS).check("https://public.example:8443/hook?x=1")
    assert target.ip == "93.184.215.14"
    url, headers, server_name = target.pinned()
    assert url == "https://93.184.215.14:8443/hook?x=1"
    assert headers == {"Host": "public.example:8443"}
    assert server_name == "public.example"
    v6 = await EgressPolicy([], DNS).check("http://v6.example/")
    assert v6.ip.startswith("2606:")


async def test_the_allowlist_matches_the_urls_own_host_only() -> None:
    policy = EgressPolicy(["127.0.0.1", "internal.example", "192.168.0.0/16"], DNS)
    assert (await policy.check("http://127.0.0.1:9000/")).ip == "127.0.0.1"
    assert (await policy.check("http://internal.example/")).ip == "10.0.0.7"
    assert (await policy.check("http://192.168.4.5/")).ip == "192.168.4.5"
    with pytest.raises(EgressRefused):  # resolves to an allowed IP, but the name is not allowed
        await policy.check("http://localhost/")
    with pytest.raises(EgressRefused):
        await policy.check("http://10.0.0.7/")
