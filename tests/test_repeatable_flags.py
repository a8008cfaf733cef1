"""string_array flags (pflag's stringArray): every occurrence is kept, commas are not separators."""

from __future__ import annotations

from kernel.server.options import OptionSet, build_parser, parse, string_array, string_list


def _options() -> OptionSet:
    options = OptionSet()
    options.add("issuer", default=[], type=string_array, help="Repeatable.")
    options.add("names", default=[], type=string_list, help="Comma-separated.")
    options.add("single", default="", help="Last one wins.")
    return options


def test_each_occurrence_is_kept_in_order() -> None:
    result = parse(_options(), ["--issuer=https://a", "--issuer", "https://b,c", "--issuer=d"])
    assert result.errors == []
    assert result.options.issuer == ["https://a", "https://b,c", "d"]  # the comma stays
    assert "issuer" in result.options.explicit


def test_unset_is_the_default_and_a_string_list_still_splits() -> None:
    result = parse(_options(), ["--names=a,b", "--names=c", "--single=x", "--single=y"])
    assert result.options.issuer == []
    assert "issuer" not in result.options.explicit
    assert result.options.names == ["c"]  # a string list is one value, the last given
    assert result.options.single == "y"


def test_an_occurrence_without_a_value_is_reported() -> None:
    result = parse(_options(), ["--issuer=a", "--issuer"])
    assert result.errors == ["flag needs an argument: --issuer"]
    assert result.options.issuer == ["a"]


def test_help_names_the_type_as_pflag_does() -> None:
    help_text = build_parser(_options()).format_help()
    assert "--issuer stringArray" in help_text
