"""What every reader of a task's files shares: the error it raises, and how a file that is not UTF-8 is reported.

A file saved in another encoding (Latin-1 from a spreadsheet, UTF-16 from a Windows tool) or a file
of random bytes otherwise ends in a raw ``UnicodeDecodeError`` from deep inside csv, pandas or
pyarrow, naming neither the file nor the fix. Readers check first, and say which file, which line,
which byte, and how to convert it.
"""

from __future__ import annotations

from pathlib import Path

READ_AS_UTF8 = "the harness reads a task's text files as UTF-8"


class DataError(ValueError):
    """The data could not be loaded; the message names the file, the problem and the fix."""


def check_utf8(path: Path, *, why: str = READ_AS_UTF8) -> None:
    """Raise :class:`DataError` naming the line and the fix when ``path`` is not UTF-8 text.

    A UTF-8 byte-order mark is fine (it is UTF-8); NUL bytes are not text, and mean a binary file.
    """
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(not_utf8_message(path, error, line=number, why=why)) from None
            if b"\x00" in line:
                raise DataError(
                    f"{path}, line {number}: holds NUL bytes, so it is not a text file; {why} "
                    "(is this a binary file, or one saved as UTF-16? convert it with "
                    f"`iconv -f utf-16 -t utf-8 {path.name} > {path.name}.utf8`)"
                )


def not_utf8_message(path: Path, error: UnicodeDecodeError, *, line: int | None = None, why: str = READ_AS_UTF8) -> str:
    """Where the first undecodable byte is, by line, and how to convert the file."""
    if line is None:
        with open(path, "rb") as handle:
            for number, text in enumerate(handle, start=1):
                try:
                    text.decode("utf-8")
                except UnicodeDecodeError:
                    line = number
                    break
    where = f"{path}, line {line}" if line else str(path)
    return (
        f"{where}: the file is not UTF-8 text ({error.reason}: byte {error.object[error.start:error.start + 1]!r}); "
        f"{why}. Convert it from the encoding it was saved in, e.g. "
        f"`iconv -f latin1 -t utf-8 {path.name} > {path.name}.utf8` (replace latin1 by that encoding), "
        f"then put the result in place of {path.name}"
    )
