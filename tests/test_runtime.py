"""Process tuning the services apply once started."""

from __future__ import annotations

import subprocess
import sys

import pytest

FREE_40_MB = """
import sys
from shared.runtime import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory(64 << 20)
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
blocks = [b"x" * 100_000 for _ in range(400)]  # 40 MB in blocks glibc takes from its heap
before = resident_mb()
del blocks
print(before - resident_mb())
"""


def given_back_mb(mode: str) -> int:
    """Resident MB a fresh process gives back on freeing 40 MB of blocks."""
    out = subprocess.run([sys.executable, "-c", FREE_40_MB, mode], check=True,
                         capture_output=True, text=True).stdout
    return int(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_memory_is_kept_for_the_next_batch_instead_of_given_back() -> None:
    assert given_back_mb("default") >= 30  # what the next batch would fault in again
    assert given_back_mb("keep") <= 2
