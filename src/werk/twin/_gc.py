"""Building a large twin allocates hundreds of thousands of objects that all stay alive; the
cyclic garbage collector would scan them again and again for nothing (two thirds of the build
time of a 1,000-asset plant). It is paused while such a graph is built, then resumed."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
