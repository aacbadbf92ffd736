"""Reading the harness's TOML files (experiment files, the paper reference) with one error style.

Python 3.11 has `tomllib`; on 3.10 the same parser is the `tomli` package (a dependency there only).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from avgzsl_bench.errors import BenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The parsed file, or a `BenchError` naming `what` it is, the file, and where the syntax breaks."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BenchError(f"cannot read the {what} {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise BenchError(f"{path}: not a valid TOML {what}: {error}") from None
