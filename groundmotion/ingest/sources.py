"""Opening product files: plain or gzipped CSV, or a ZIP holding a CSV and its XML header.

Files are streamed, never read whole: a ZIP member is decompressed as it is read.
"""

from __future__ import annotations

import contextlib
import gzip
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from groundmotion.ingest.errors import IngestError

CORRUPT_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile)


@contextlib.contextmanager
def open_table(path: Path) -> Iterator[tuple[IO[bytes], dict[str, Any]]]:
    """(binary stream of the CSV, XML header as a dict or {}), for .csv, .csv.gz or .zip."""
    label = str(path)
    if not path.exists():
        raise IngestError(label, "no such file")
    if path.suffix.lower() == ".zip":
        with _open_zip(path) as opened:
            yield opened
    elif path.suffix.lower() == ".gz":
        with gzip.open(path, "rb") as stream:
            yield stream, {}
    else:
        with path.open("rb") as stream:
            yield stream, {}


@contextlib.contextmanager
def _open_zip(path: Path) -> Iterator[tuple[IO[bytes], dict[str, Any]]]:
    label = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except CORRUPT_ERRORS as error:
        raise IngestError(label, f"truncated or corrupt ZIP file ({error})") from None
    with archive:
        names = archive.namelist()
        tables = [name for name in names if name.lower().endswith(".csv")]
        if len(tables) != 1:
            raise IngestError(label, f"expected one .csv in the ZIP, found {len(tables)}")
        headers = [name for name in names if name.lower().endswith(".xml")]
        try:
            header = read_xml_header(archive.read(headers[0])) if headers else {}
            with archive.open(tables[0]) as stream:
                yield stream, header
        except CORRUPT_ERRORS as error:
            raise IngestError(label, f"truncated or corrupt ZIP file ({error})") from None


def read_xml_header(content: bytes) -> dict[str, Any]:
    """The EGMS XML header as nested dicts; repeated elements become lists."""
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        return {"unreadable_xml": str(error)}
    return {root.tag: _element_to_value(root)}


def _element_to_value(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    value: dict[str, Any] = {}
    for child in children:
        item = _element_to_value(child)
        if child.tag in value:
            if not isinstance(value[child.tag], list):
                value[child.tag] = [value[child.tag]]
            value[child.tag].append(item)
        else:
            value[child.tag] = item
    return value


def read_bytes(stream: IO[bytes], label: str, size: int) -> bytes:
    """stream.read(size), with decompression failures as IngestError."""
    try:
        return stream.read(size)
    except CORRUPT_ERRORS as error:
        raise IngestError(label, f"truncated or corrupt compressed file ({error})") from None


def read_blocks(stream: IO[bytes], label: str, size: int) -> Iterator[bytes]:
    """Blocks of whole lines of about `size` bytes; the last may lack its newline."""
    leftover = b""
    while True:
        data = read_bytes(stream, label, size)
        if not data:
            break
        data = leftover + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            leftover = data
            continue
        leftover = data[cut:]
        yield data[:cut]
    if leftover.strip():
        yield leftover
