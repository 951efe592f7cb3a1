"""The memory limits the process runs under, for a load failure's one-line diagnosis.

A limit on address space (`ulimit -v`, systemd's LimitAS=) makes mapping a library or
reserving a thread's stack fail long before memory is really used up: OpenCV's native
start-up then crashes (SIGSEGV, nothing on stderr) or an import says "failed to map
segment". systemd's MemoryMax= bounds what is really used and is the limit to set.
"""

from __future__ import annotations

import importlib
import logging
import resource
from types import ModuleType

from edge.errors import DependencyError, first_line

log = logging.getLogger(__name__)

# measured: the demo starts at 600-800 MB of address space, and fails at 700 in one run of
# three (OpenBLAS); every thread can add a 64 MB malloc arena to that
SAFE_ADDRESS_SPACE_MB = 2048


def address_space_limit_mb() -> int | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft // 2**20


def memory_hint() -> str:
    """What to do when something failed to load for want of memory."""
    limit = address_space_limit_mb()
    if limit is None:
        return "free some memory"
    return (
        f"the address space is limited to {limit} MB (ulimit -v, LimitAS=): raise it, "
        "or bound memory with MemoryMax= instead"
    )


def warn_if_address_space_small() -> None:
    """Said before the native libraries load, since a crash inside them says nothing."""
    limit = address_space_limit_mb()
    if limit is not None and limit < SAFE_ADDRESS_SPACE_MB:
        log.warning(
            "the address space is limited to %d MB (ulimit -v, LimitAS=); the libraries "
            "reserve more than they use, so loading them may fail or crash: raise it to %d MB "
            "or more, or bound memory with MemoryMax= instead",
            limit,
            SAFE_ADDRESS_SPACE_MB,
        )


def load_runtime(module_name: str) -> ModuleType:
    """Import a module that brings OpenCV, numpy and LiteRT; a failure is one line."""
    warn_if_address_space_small()
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise DependencyError(f"{exc.name} is not installed: run ./setup.sh") from exc
    except (ImportError, OSError, MemoryError) as exc:
        kind, text = type(exc).__name__, first_line(exc)
        raise DependencyError(
            f"the program's libraries do not load ({kind if text == kind else f'{kind}: {text}'}"
            f"): {memory_hint()}; if memory is not short, reinstall with ./setup.sh"
        ) from exc
