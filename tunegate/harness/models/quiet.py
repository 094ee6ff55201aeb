"""Third-party noise that tunegate's own calls cause, silenced where it starts, each with its reason.

Loading an adapter imports peft, and peft imports bitsandbytes whether or not anything is
quantized. That import alone, on a CPU with AVX512-BF16, logs "Failed to load CPU
gemm_4bit_forward from kernels-community" (bitsandbytes tries an optional kernel download, which
tunegate never uses: NF4 on CPU runs bitsandbytes' own kernel), and it calls ``torch.compile``,
whose first import of ``torch._inductor`` emits torch's own ``torch.jit.script_method``
deprecation. Loading the adapter, peft then calls transformers' deprecated
``is_gradient_checkpointing``. None of these is the user's to act on, and every run printed
them, so they are hidden here, only around those calls, and nowhere else: a warning from the
user's own code or from a later call still shows.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

NOISE: tuple[tuple[type[Warning], str], ...] = (
    (DeprecationWarning, r"`torch\.jit\.script_method` is deprecated"),
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),
)
"""(category, message regex) of the warnings raised inside ``quiet()``'s calls that are not the user's."""
QUIET_LOGGERS = ("bitsandbytes.backends.cpu.ops",)
"""Loggers whose import-time warnings (the optional CPU kernel download) are not the user's."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide ``NOISE`` and the ``QUIET_LOGGERS``' warnings for the calls inside the block."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for category, message in NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
