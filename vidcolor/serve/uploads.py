"""Uploads for `vidcolor serve`, streamed into a file under a size limit as they arrive: the request's body, named
by ?name=, or the field ``file`` of a multipart/form-data form (`curl -F file=@photo.jpg`), named by its filename.
A name gives a suffix and a display name, never a path; whatever goes wrong, no part-written file stays."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

FIELD = "file"  # the form field that holds the upload
OPENAPI_BODY = {"requestBody": {"content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD],
                                       "properties": {FIELD: {"type": "string", "format": "binary"}}}},
}}}  # fmt: skip


class _TooLarge(Exception):
    pass


class _File:
    """One upload being written: ``name`` (its last part only) checked for a suffix of ``suffixes`` first."""

    def __init__(self, folder: Path, name: str, suffixes: Collection[str], limit: int, named_by: str) -> None:
        self.name = Path(name).name  # the last part only: no path leaves the folder
        suffix = Path(self.name).suffix.lower()
        if suffix not in suffixes:
            raise HTTPException(415, f"{named_by} must end in one of {', '.join(sorted(suffixes))}, got {self.name!r}")
        handle, path = tempfile.mkstemp(suffix=suffix, dir=folder)
        self.path, self.limit, self.size = Path(path), limit, 0
        self._file = open(handle, "wb")  # closed by close(), on every way out of ``Uploads.receive``

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge
        self._file.write(data)

    def close(self) -> None:
        self._file.close()


class _Form:
    """The multipart/form-data parser's callbacks: the part named ``file`` goes into a ``_File``, other fields are
    skipped."""

    def __init__(self, start: Callable[[str], _File]) -> None:
        self._start = start
        self.file: _File | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._writing = False

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
        if options.get(b"name") == FIELD.encode() and self.file is None:
            self.file = self._start(options.get(b"filename", b"").decode(errors="replace"))
            self._writing = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._writing and self.file is not None:
            self.file.write(data[start:end])

    def _part_end(self) -> None:
        self._writing = False


class Uploads:
    """Receives uploads into files under ``folder``, none larger than ``limit`` bytes."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit

    async def receive(self, request: Request, suffixes: Collection[str]) -> tuple[str, Path]:
        """The upload's display name and the file it is in now (the caller's to remove)."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > self.limit:
            raise HTTPException(413, f"the upload is larger than the limit ({self.limit} bytes)")
        kind, options = parse_options_header(request.headers.get("content-type", ""))
        form: _Form | None = None
        upload: _File | None = None
        try:
            if kind == b"multipart/form-data":
                form = _Form(lambda name: _File(self.folder, name, suffixes, self.limit, "the file's name"))
                parser = MultipartParser(options.get(b"boundary", b""), form.callbacks())  # type: ignore[arg-type]
                async for chunk in request.stream():
                    parser.write(chunk)
                parser.finalize()
                upload = form.file
                if upload is None:
                    raise HTTPException(400, f"the form has no field {FIELD!r} (curl -F {FIELD}=@photo.jpg)")
            else:
                upload = _File(self.folder, request.query_params.get("name", ""), suffixes, self.limit, "?name=")
                async for chunk in request.stream():
                    upload.write(chunk)
        except BaseException as exc:
            upload = upload or (form.file if form is not None else None)
            if upload is not None:
                upload.close()
                upload.path.unlink(missing_ok=True)
            if isinstance(exc, _TooLarge):
                raise HTTPException(413, f"the upload is larger than the limit ({self.limit} bytes)") from None
            if isinstance(exc, ClientDisconnect):  # the client went away mid-upload: nothing to say
                raise HTTPException(400, "the client went away mid-upload") from None
            if isinstance(exc, MultipartParseError):
                raise HTTPException(400, f"the form cannot be read: {exc}") from None
            raise
        upload.close()
        if upload.size == 0:
            upload.path.unlink(missing_ok=True)
            raise HTTPException(400, "the upload is empty")
        return upload.name, upload.path
