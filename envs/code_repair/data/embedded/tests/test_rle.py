import pytest

from tallykit.rle import (
    RLEError,
    compression_ratio,
    decode_bytes,
    dumps,
    encode_bytes,
    expand,
    loads,
    runs,
)


def test_runs():
    assert runs("aaabccdddd") == [("a", 3), ("b", 1), ("c", 2), ("d", 4)]
    assert runs("") == []
    assert runs("abab") == [("a", 1), ("b", 1), ("a", 1), ("b", 1)]


def test_expand_inverts_runs_and_rejects_zero():
    assert expand([("x", 2), ("y", 1)]) == "xxy"
    with pytest.raises(RLEError):
        expand([("x", 0)])


def test_dumps_omits_count_one():
    assert dumps("aaab") == "3ab"
    assert dumps("abc") == "abc"
    assert dumps("") == ""


def test_dumps_multi_digit_counts():
    assert dumps("z" * 12) == "12z"


def test_dumps_escapes_digits_and_backslash():
    assert dumps("aab11") == "2ab2\\1"
    assert dumps("\\") == "\\\\"


@pytest.mark.parametrize(
    "text",
    ["", "hello  world", "112233", "x" * 100 + "y", "\\\\n9"],
)
def test_round_trip(text):
    assert loads(dumps(text)) == text


def test_loads_counts_and_escapes():
    assert loads("3ab") == "aaab"
    assert loads("10x") == "x" * 10
    assert loads("2\\5") == "55"
    assert loads("1a1b") == "ab"


@pytest.mark.parametrize("bad", ["ab12", "\\", "2\\", "0a"])
def test_loads_rejects_malformed(bad):
    with pytest.raises(RLEError):
        loads(bad)


def test_encode_bytes():
    assert encode_bytes(b"aaab") == bytes((3, 97, 1, 98))
    assert encode_bytes(b"") == b""


def test_encode_bytes_splits_long_runs():
    encoded = encode_bytes(b"\x00" * 300)
    assert encoded == bytes((255, 0, 45, 0))
    assert encode_bytes(b"\x07" * 255) == bytes((255, 7))


def test_bytes_round_trip():
    data = bytes(range(10)) + b"\xff" * 600 + b"ab"
    assert decode_bytes(encode_bytes(data)) == data
    assert decode_bytes(bytes((2, 65, 1, 66))) == b"AAB"


def test_decode_bytes_rejects_odd_length_and_zero_count():
    with pytest.raises(RLEError):
        decode_bytes(b"\x01")
    with pytest.raises(RLEError):
        decode_bytes(bytes((0, 65)))


def test_compression_ratio():
    assert compression_ratio("") == 1.0
    assert compression_ratio("aaaa") == 0.5
    assert compression_ratio("ab") == 1.0
