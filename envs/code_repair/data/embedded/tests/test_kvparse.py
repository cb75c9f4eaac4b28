import pytest

from tallykit.kvparse import Config, ParseError, parse

SAMPLE = """\
# settings
name = tallykit
debug = yes

[Server]
port = 8080
hosts = alpha, beta, ,gamma
motd = first line
  second line
timeout: 30  # seconds

[paths]
home = /srv
data = ${home}/data
url = http://${name}:${server:port}/
"""


def test_top_level_keys_live_in_the_empty_section():
    config = parse(SAMPLE)
    assert config.get("", "name") == "tallykit"


def test_sections_in_order_and_lower_cased():
    assert parse(SAMPLE).sections() == ["server", "paths"]


def test_keys_and_sections_are_case_insensitive():
    config = parse(SAMPLE)
    assert config.get("SERVER", "Port") == "8080"
    assert config.has("server", "PORT")


def test_colon_separates_too_and_inline_comment_is_dropped():
    assert parse(SAMPLE).get("server", "timeout") == "30"


def test_separator_is_the_first_of_equals_or_colon():
    config = parse("url = http://x\nratio: a=b\n")
    assert config.get("", "url") == "http://x"
    assert config.get("", "ratio") == "a=b"
    tight = parse("a=1\nb:2\nc = 3 #note\nd = 4 ;note\n")
    assert [tight.get("", k) for k in "abcd"] == ["1", "2", "3", "4"]
    with pytest.raises(ParseError, match="empty key"):
        parse("= value\n")


def test_hash_without_space_is_part_of_the_value():
    assert parse("colour = #ff0000\nlabel = a#b\n").get("", "label") == "a#b"
    assert parse("colour = #ff0000\n").get("", "colour") == "#ff0000"


def test_continuation_lines_join_with_newline():
    assert parse(SAMPLE).get("server", "motd") == "first line\nsecond line"


def test_blank_line_ends_a_continuation():
    config = parse("a = 1\n\n  b = 2\n")
    assert config.get("", "a") == "1"
    assert config.get("", "b") == "2"


def test_get_default_for_missing_key_and_section():
    config = parse(SAMPLE)
    assert config.get("server", "missing", "x") == "x"
    assert config.get("nowhere", "port") is None


def test_get_int_decimal_hex_and_negative():
    config = parse("a = 42\nb = 0x1F\nc = -7\nd = -0x10\n")
    assert config.get_int("", "a") == 42
    assert config.get_int("", "b") == 31
    assert config.get_int("", "c") == -7
    assert config.get_int("", "d") == -16
    assert config.get_int("", "zzz", 5) == 5


def test_get_int_rejects_words():
    with pytest.raises(ValueError):
        parse("a = many\n").get_int("", "a")


@pytest.mark.parametrize(
    ("word", "expected"),
    [("yes", True), ("On", True), ("false", False), ("OFF", False)],
)
def test_get_bool_words(word, expected):
    assert parse(f"flag = {word}\n").get_bool("", "flag") is expected


def test_get_bool_rejects_other_words_and_defaults_when_unset():
    config = parse("flag = maybe\n")
    with pytest.raises(ValueError):
        config.get_bool("", "flag")
    assert config.get_bool("", "absent", True) is True


def test_get_list_strips_and_drops_empty_items():
    assert parse(SAMPLE).get_list("server", "hosts") == ["alpha", "beta", "gamma"]
    assert parse(SAMPLE).get_list("server", "absent") == []


def test_expand_same_section_top_level_and_qualified():
    config = parse(SAMPLE)
    assert config.expand("paths", "data") == "/srv/data"
    assert config.expand("paths", "url") == "http://tallykit:8080/"


def test_expand_missing_reference_and_cycle():
    config = parse("a = ${b}\nb = ${a}\nc = ${nope}\nd = ${open\n")
    with pytest.raises(ValueError):
        config.expand("", "a")
    with pytest.raises(KeyError):
        config.expand("", "c")
    with pytest.raises(ValueError):
        config.expand("", "d")


def test_expand_allows_nesting_below_the_depth_limit():
    lines = [f"k{i} = ${{k{i + 1}}}" for i in range(9)] + ["k9 = end"]
    assert parse("\n".join(lines)).expand("", "k0") == "end"
    too_deep = [f"k{i} = ${{k{i + 1}}}" for i in range(10)] + ["k10 = end"]
    with pytest.raises(ValueError, match="deeply"):
        parse("\n".join(too_deep)).expand("", "k0")


@pytest.mark.parametrize(
    ("text", "line"),
    [("a = 1\n[open\n", 2), ("[ ]\n", 1), ("just words\n", 1), ("= value\n", 1)],
)
def test_parse_errors_name_the_line(text, line):
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert caught.value.line_number == line
    assert f"line {line}" in str(caught.value)


def test_duplicate_keys_strict_and_lenient():
    with pytest.raises(ParseError):
        parse("a = 1\na = 2\n")
    assert parse("a = 1\na = 2\n", strict=False).get("", "a") == "2"


def test_items_keep_insertion_order():
    assert parse("[s]\nb = 2\na = 1\n").items("s") == [("b", "2"), ("a", "1")]


def test_to_text_round_trips():
    config = parse(SAMPLE)
    again = parse(config.to_text())
    for section in ["", *config.sections()]:
        assert again.items(section) == config.items(section)


def test_to_text_of_empty_config():
    assert Config().to_text() == ""
