"""Results as JSON Lines, to stdout or a file: one object per processed frame."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from edge.errors import ConfigError
from edge.payload import result_to_dict
from edge.types import Result


class JsonLinesSink:
    def __init__(self, target: str) -> None:
        self._owned = target != "-"
        self._reader_gone = False
        if not self._owned:
            self._stream: TextIO = sys.stdout
            self.description = "stdout"
            return
        path = Path(target).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot open for writing ({exc.strerror}); "
                "set output.jsonl to a writable file or '-'"
            ) from None
        self.description = str(path)

    def emit(self, result: Result) -> None:
        if self._reader_gone:
            return
        try:
            self._stream.write(json.dumps(result_to_dict(result), separators=(",", ":")) + "\n")
            self._stream.flush()
        except BrokenPipeError:
            # the reader (e.g. `| head`) went away: stop writing, keep the pipeline alive
            self._reader_gone = True

    def close(self) -> None:
        try:
            if self._owned:
                self._stream.close()
            elif not self._reader_gone:
                self._stream.flush()
        except BrokenPipeError:
            self._reader_gone = True
