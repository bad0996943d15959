"""The batch manifest: one JSON object a line, appended and fsynced by the driver alone, so a run killed at any
moment leaves every line before the last whole (a torn last line is ignored and cut off on the next append).

Lines: ``{"event": "run", "settings": …}`` at each start; ``{"event": "done", "key": …}`` per output written;
``{"event": "failed", "key": …, "reason": …}`` per failed attempt. ``key`` is the output relative to the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .discover import MANIFEST_NAME


def settings_id(settings: dict[str, object]) -> str:
    """A short digest of the settings that change the pixels: a done line made under others does not count."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def identity(path: Path) -> dict[str, int]:
    """Enough to tell that an input was replaced or edited since its output was made."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass
class History:
    """What earlier runs did with one output: its last done line, and the failures since."""

    done: dict | None = None
    failures: list[dict] = field(default_factory=list)


class Manifest:
    def __init__(self, folder: Path) -> None:
        self.path = folder / MANIFEST_NAME
        self._torn: bool | None = None  # whether the file ends in a torn line; looked at before the first append

    def read(self) -> dict[str, History]:
        """Each key's history, from the whole lines; a torn last line (a driver killed mid-write) is skipped."""
        history: dict[str, History] = {}
        if not self.path.exists():
            return history
        data = self.path.read_bytes()
        self._torn = bool(data) and not data.endswith(b"\n")
        for line in data.splitlines()[: -1 if self._torn else None]:
            try:
                record = json.loads(line)
            except ValueError:  # only a torn line is ever half written; skip anything else unreadable too
                continue
            if record.get("event") == "done":
                history[record["key"]] = History(done=record)
            elif record.get("event") == "failed":
                history.setdefault(record["key"], History()).failures.append(record)
        return history

    def append(self, event: str, **fields: object) -> None:
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._torn is None:
            self._torn = _ends_torn(self.path)
        with self.path.open("ab") as file:
            if self._torn:  # end the torn line, so the new one stands on its own
                file.write(b"\n")
                self._torn = False
            file.write(line.encode())
            file.flush()
            os.fsync(file.fileno())


def _ends_torn(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) != b"\n"
