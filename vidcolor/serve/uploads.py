"""Uploads for `vidcolor serve`, streamed into a file under a size limit as they arrive: the request's body, named
by ?name=, or the field ``file`` of a multipart/form-data form (`curl -F file=@photo.jpg`), named by its filename.
A form may also hold the guidance (`-F hints=@hints.json -F reference=@daytime.jpg`): ``hints`` kept as text (a
file or a value), ``reference`` streamed to a file as ``file`` is. A name gives a suffix and a display name, never a
path; whatever goes wrong, no part-written file stays."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from ..images import IMAGE_SUFFIXES

FIELD, HINTS, REFERENCE = "file", "hints", "reference"  # the form's fields: the upload and its guidance
HINTS_LIMIT = 1 << 20  # bytes of a form's hints
OPENAPI_BODY = {"requestBody": {"content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD], "properties": {
        FIELD: {"type": "string", "format": "binary"},
        HINTS: {"type": "string", "format": "binary",
                "description": 'colour hints, JSON: {"hints": [{"x": 0.31, "y": 0.52, "color": "#1f4fa0"}]}'},
        REFERENCE: {"type": "string", "format": "binary", "description": "a colour picture of the same view"}}}},
}}}  # fmt: skip


class _TooLarge(Exception):
    """A part went over its limit; the message says which."""


class _File:
    """One upload being written: ``name`` (its last part only) checked for a suffix of ``suffixes`` first."""

    def __init__(self, folder: Path, name: str, suffixes: Collection[str], limit: int, named_by: str,
                 what: str = "the upload") -> None:  # fmt: skip
        self.name, self.what = Path(name).name, what  # the last part only: no path leaves the folder
        suffix = Path(self.name).suffix.lower()
        if suffix not in suffixes:
            raise HTTPException(415, f"{named_by} must end in one of {', '.join(sorted(suffixes))}, got {self.name!r}")
        handle, path = tempfile.mkstemp(suffix=suffix, dir=folder)
        self.path, self.limit, self.size = Path(path), limit, 0
        self._file = open(handle, "wb")  # closed by close(), on every way out of ``Uploads.receive``

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge(f"{self.what} is larger than the limit ({self.limit} bytes)")
        self._file.write(data)

    def close(self) -> None:
        self._file.close()


class _Form:
    """The multipart/form-data parser's callbacks: the parts named ``file`` and ``reference`` go into ``_File``s
    (the first of each), ``hints`` into memory; other fields are skipped."""

    def __init__(self, start: Callable[[str, str], _File]) -> None:  # (field, its filename) -> the file it goes to
        self._start = start
        self.files: dict[str, _File] = {}
        self.hints: bytearray | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._part: _File | bytearray | None = None  # where the current part's data goes, if anywhere

    def callbacks(self) -> dict[str, object]:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end}  # fmt: skip

    def _part_begin(self) -> None:
        self._headers.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode(errors="replace")
        if name in (FIELD, REFERENCE) and name not in self.files:
            self._part = self.files[name] = self._start(name, options.get(b"filename", b"").decode(errors="replace"))
        elif name == HINTS and self.hints is None:
            self._part = self.hints = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if isinstance(self._part, _File):
            self._part.write(data[start:end])
        elif self._part is not None:
            if len(self._part) + end - start > HINTS_LIMIT:
                raise _TooLarge(f"the hints are larger than the limit ({HINTS_LIMIT} bytes)")
            self._part += data[start:end]

    def _part_end(self) -> None:
        self._part = None


@dataclass
class Received:
    """An upload: its display name and the file it is in now, and a form's guidance: ``hints`` (the JSON as text)
    and ``reference`` (its display name and file). ``discard()`` removes the files."""

    name: str
    path: Path
    hints: str | None = None
    reference: tuple[str, Path] | None = None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.reference is not None:
            self.reference[1].unlink(missing_ok=True)


class Uploads:
    """Receives uploads into files under ``folder``, none larger than ``limit`` bytes."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit

    async def receive(self, request: Request, suffixes: Collection[str]) -> Received:
        """The upload and a form's guidance, in files that are the caller's to remove (``Received.discard``)."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > self.limit:
            raise HTTPException(413, f"the upload is larger than the limit ({self.limit} bytes)")
        kind, options = parse_options_header(request.headers.get("content-type", ""))
        files: dict[str, _File] = {}
        hints: bytearray | None = None
        try:
            if kind == b"multipart/form-data":
                form = _Form(lambda field, name: self._start(field, name, suffixes))
                files = form.files  # filled as the parts arrive: all of them removed if anything goes wrong
                parser = MultipartParser(options.get(b"boundary", b""), form.callbacks())  # type: ignore[arg-type]
                async for chunk in request.stream():
                    parser.write(chunk)
                parser.finalize()
                hints = form.hints
                if FIELD not in files:
                    raise HTTPException(400, f"the form has no field {FIELD!r} (curl -F {FIELD}=@photo.jpg)")
            else:
                files[FIELD] = upload = _File(self.folder, request.query_params.get("name", ""), suffixes,
                                              self.limit, "?name=")  # fmt: skip
                async for chunk in request.stream():
                    upload.write(chunk)
            for part in files.values():
                part.close()
                if part.size == 0:
                    raise HTTPException(400, f"{part.what} is empty")
            text = None if hints is None else bytes(hints).decode("utf-8")
        except BaseException as exc:
            for part in files.values():
                part.close()
                part.path.unlink(missing_ok=True)
            if isinstance(exc, _TooLarge):
                raise HTTPException(413, str(exc)) from None
            if isinstance(exc, ClientDisconnect):  # the client went away mid-upload: nothing to say
                raise HTTPException(400, "the client went away mid-upload") from None
            if isinstance(exc, MultipartParseError):
                raise HTTPException(400, f"the form cannot be read: {exc}") from None
            if isinstance(exc, UnicodeDecodeError):
                raise HTTPException(400, "hints: not UTF-8 text") from None
            raise
        reference = files.get(REFERENCE)
        return Received(files[FIELD].name, files[FIELD].path, text,
                        None if reference is None else (reference.name, reference.path))  # fmt: skip

    def _start(self, field: str, name: str, suffixes: Collection[str]) -> _File:
        """The file a form's ``field`` goes to: the upload, or its reference (a picture)."""
        if field == FIELD:
            return _File(self.folder, name, suffixes, self.limit, "the file's name")
        return _File(self.folder, name, IMAGE_SUFFIXES, self.limit, "the reference's name", "the reference")
