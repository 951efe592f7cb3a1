"""What training writes at the end of each epoch: the files to resume from, and one line."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from convert.common import tensorflow

_Callback: Any = tensorflow().keras.callbacks.Callback


def _save_model(model: Any, path: Path) -> None:
    """Written beside the target and renamed, so Ctrl-C never leaves half a model."""
    partial = path.with_name(path.stem + ".part.keras")
    model.save(str(partial))
    partial.replace(path)


def _save_json(data: dict[str, Any], path: Path) -> None:
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


@contextlib.contextmanager
def interrupt_after() -> Iterator[None]:
    """Ctrl-C while an epoch's files are written takes effect once they all are, so the
    last model, the best model and the state file always describe the same epoch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


class EpochEnd(_Callback):
    """Saves the last state (for --resume) and the best model, prints one line, stops early."""

    def __init__(
        self, files: dict[str, Path], state: dict[str, Any], epochs: int, patience: int
    ) -> None:
        super().__init__()
        self.files, self.state = files, state
        self.epochs, self.patience = epochs, patience
        self._started = time.monotonic()

    def best_epoch(self) -> int:
        history = self.state["history"]
        return max(history, key=lambda row: row["val_accuracy"])["epoch"] if history else 0

    def best_accuracy(self) -> float:
        return max((row["val_accuracy"] for row in self.state["history"]), default=0.0)

    def stop_early(self) -> bool:
        history = self.state["history"]
        return bool(history) and history[-1]["epoch"] - self.best_epoch() >= self.patience

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        seconds = time.monotonic() - self._started
        row = {
            "epoch": epoch + 1,
            "loss": round(float(logs.get("loss", float("nan"))), 4),
            "accuracy": round(float(logs.get("accuracy", float("nan"))), 4),
            "val_loss": round(float(logs.get("val_loss", float("nan"))), 4),
            "val_accuracy": round(float(logs.get("val_accuracy", 0.0)), 4),
            "seconds": round(seconds, 1),
        }
        improved = row["val_accuracy"] > self.best_accuracy() or not self.state["history"]
        with interrupt_after():
            if improved:
                _save_model(self.model, self.files["best"])
            _save_model(self.model, self.files["last"])
            self.state["history"].append(row)
            _save_json(self.state, self.files["state"])
        history = self.state["history"]
        mean = sum(r["seconds"] for r in history) / len(history)
        left = max(0, self.epochs - row["epoch"]) * mean
        print(
            f"epoch {row['epoch']}/{self.epochs}: loss {row['loss']:.4f}, val loss "
            f"{row['val_loss']:.4f}, val accuracy {row['val_accuracy']:.1%} "
            f"(best {self.best_accuracy():.1%} at epoch {self.best_epoch()}"
            f"{', saved' if improved else ''}), {seconds:.0f} s, about {_minutes(left)} left",
            flush=True,
        )
        if self.stop_early():
            print(
                f"no better validation accuracy for {self.patience} epochs: stopping early",
                flush=True,
            )
            self.model.stop_training = True
