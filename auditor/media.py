"""Raw media of a dataset, torch-free: image bytes from a column, texts, checks, thumbnails.

An image column is a Hugging Face Image struct (``struct<bytes, path>``), a path string (a
relative path is resolved against the Parquet file's folder) or raw bytes; a text column is a
string column. :mod:`auditor.embed` reads them to encode, :mod:`auditor.report` to show
thumbnails and snippets; PIL is imported only when an image is decoded.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from auditor.dataset import DataError

THUMBNAIL_PIXELS = 96


@dataclass(frozen=True)
class Problem:
    """One bad cell: the row (0-based, in the input file), the column and what is wrong."""

    row: int
    column: str
    reason: str


class BadCell(Exception):
    """A row's image or text cannot be used; the message is the reason."""


class RawImages:
    """Row access to an image column: HF ``struct<bytes, path>``, path strings or raw bytes.

    ``load(row)`` returns the encoded image bytes (from the column or from the file) or raises
    :class:`BadCell` with the reason.
    """

    def __init__(
        self,
        values: pa.ChunkedArray | pa.Array,
        *,
        base_dir: Path | None,
        file: str | None,
        column: str,
    ) -> None:
        array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        self._base_dir = base_dir
        self._bytes: pa.Array | None = None
        self._paths: pa.Array | None = None
        data_type = array.type
        expected = (
            "expected struct<bytes: binary, path: string> (a Hugging Face Image), "
            "a path string or binary image bytes"
        )
        if pa.types.is_struct(data_type):
            names = [data_type.field(i).name for i in range(data_type.num_fields)]
            if "bytes" not in names and "path" not in names:
                raise DataError(f"wrong type {data_type}: {expected}", file=file, column=column)
            for name, has_expected_type in (("bytes", _is_binary), ("path", _is_string)):
                if name in names and not has_expected_type(array.field(name).type):
                    raise DataError(
                        f"wrong type {data_type}: field '{name}' is {array.field(name).type}; "
                        + expected,
                        file=file,
                        column=column,
                    )
            if "bytes" in names:
                self._bytes = array.field("bytes")
            if "path" in names:
                self._paths = array.field("path")
        elif _is_string(data_type):
            self._paths = array
        elif _is_binary(data_type):
            self._bytes = array
        else:
            raise DataError(f"wrong type {data_type}: {expected}", file=file, column=column)
        self._valid = array.is_valid()  # Arrow, not numpy: to_numpy would import pandas

    def __len__(self) -> int:
        return len(self._valid)

    def load(self, row: int) -> bytes:
        if not self._valid[row].as_py():
            raise BadCell("no image (null)")
        if self._bytes is not None:
            data = self._bytes[row].as_py()
            if data is not None:
                if not data:
                    raise BadCell("empty image bytes")
                return bytes(data)
        path_text = self._paths[row].as_py() if self._paths is not None else None
        if not path_text:
            raise BadCell("no image: both bytes and path are null")
        return self._read_file(path_text)

    def _read_file(self, path_text: str) -> bytes:
        path = Path(path_text).expanduser()
        if not path.is_absolute() and self._base_dir is not None:
            path = self._base_dir / path
        if not path.exists():
            raise BadCell(f"image file not found: {path}")
        if path.is_dir():
            raise BadCell(f"image path is a folder: {path}")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise BadCell(f"cannot read image file {path}: {error.strerror or error}") from error
        if not data:
            raise BadCell(f"image file is empty: {path}")
        return data


def _is_binary(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(data_type)
        or pa.types.is_large_binary(data_type)
        or pa.types.is_fixed_size_binary(data_type)
    )


def _is_string(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def text_values(values: pa.ChunkedArray | pa.Array, *, file: str | None, column: str) -> list:
    """The text column as a list of str (None for nulls); a non-string type is a DataError."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if not _is_string(array.type):
        raise DataError(f"wrong type {array.type}: expected string", file=file, column=column)
    return array.to_pylist()


def check_image(data: bytes) -> None:
    """Cheap check that bytes are a whole image, before any model is loaded.

    JPEGs are decoded at 1/8 scale (every byte of the stream is still read, so truncation shows)
    and other formats are verified (PNG: every chunk's checksum). Full decoding happens later and
    may still find a few more corrupt files.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.format == "JPEG":
                image.draft("RGB", (1, 1))
                image.load()
            else:
                image.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise BadCell(f"not a readable image ({_short(error)})") from error
    if width == 0 or height == 0:
        raise BadCell("image has no pixels")


def decode_image(data: bytes) -> Any:
    """Fully decode image bytes to an RGB PIL image, EXIF orientation applied.

    Raises BadCell for corrupt or truncated data.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every pixel: truncated files fail here, not in the model
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise BadCell(f"corrupt image ({_short(error)})") from error


def _short(error: BaseException) -> str:
    """First line of an error, without object reprs (PIL names the BytesIO it could not read)."""
    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def thumbnail_data_uri(data: bytes, pixels: int = THUMBNAIL_PIXELS) -> str:
    """Encoded image bytes -> a small JPEG ``data:`` URI (longest side ``pixels``).

    Raises :class:`BadCell` when the bytes are not a readable image.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (pixels * 2, pixels * 2))  # decode at a fraction of the size
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise BadCell(f"not a readable image ({type(error).__name__})") from error
    upright.thumbnail((pixels, pixels))
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
