"""Checksums are identities shared by results, baselines and the cache: they must be stable and exact."""

from __future__ import annotations

import hashlib

from harness.checksums import sha256_file, sha256_files, sha256_json


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    """Larger than the read chunk, and not a multiple of it, so chunk joins are exercised."""
    data = bytes(range(256)) * 10_000 + b"tail"
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == sha256_file(path)


def test_sha256_of_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()


def test_sha256_files_is_keyed_by_name_in_name_order(tmp_path):
    (tmp_path / "b.tsv").write_bytes(b"b")
    (tmp_path / "a.tsv").write_bytes(b"a")
    digests = sha256_files([tmp_path / "b.tsv", tmp_path / "a.tsv"])
    assert list(digests) == ["a.tsv", "b.tsv"]
    assert digests["a.tsv"] == hashlib.sha256(b"a").hexdigest()


def test_sha256_json_ignores_key_order_but_not_values():
    assert sha256_json({"a": 1, "b": [1, 2]}) == sha256_json({"b": [1, 2], "a": 1})
    assert sha256_json({"a": 1, "b": [1, 2]}) != sha256_json({"a": 1, "b": [2, 1]})
    assert sha256_json({"a": 1}) != sha256_json({"a": "1"})


def test_sha256_json_is_the_compact_sorted_encoding():
    """Stored keys were computed from this encoding; changing it would orphan every cache entry."""
    assert sha256_json({"b": 1, "a": [True, None]}) == hashlib.sha256(b'{"a":[true,null],"b":1}').hexdigest()
