"""The encoding check every reader of a task's text files runs first: which file, line and byte, and the fix."""

from __future__ import annotations

import pytest

from harness.tasks.text_files import DataError, check_utf8


def test_utf8_with_or_without_a_byte_order_mark_passes(tmp_path):
    for name, content in (("plain.csv", "text,label\ncafé,1\n"), ("bom.csv", "\ufefftext,label\ncafé,1\n")):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        check_utf8(path)


def test_latin1_names_the_line_the_byte_and_the_conversion(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_bytes("text,label\nfine,1\ncafé,0\n".encode("latin-1"))
    with pytest.raises(DataError) as error:
        check_utf8(path)
    message = str(error.value)
    assert message.startswith(f"{path}, line 3: the file is not UTF-8 text")
    assert "byte b'\\xe9'" in message and "iconv -f latin1 -t utf-8 dev.csv > dev.csv.utf8" in message


def test_nul_bytes_mean_a_binary_file(tmp_path):
    """Valid UTF-8 can still be no text: NUL bytes are what a binary or UTF-16 file without a BOM holds."""
    path = tmp_path / "dev.jsonl"
    path.write_bytes(b'{"text": "a"}\n{"te\x00xt": 1}\n')
    with pytest.raises(DataError, match=r"dev.jsonl, line 2: holds NUL bytes, so it is not a text file"):
        check_utf8(path)


def test_the_reason_can_be_the_readers_own(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(DataError, match="GLUE's files are UTF-8. Convert it"):
        check_utf8(path, why="GLUE's files are UTF-8")
