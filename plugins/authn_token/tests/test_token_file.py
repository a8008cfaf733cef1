"""--token-auth-file: kube's CSV format, its errors, and token lookups."""

from __future__ import annotations

import pytest

import kernel_authn_token
from kernel.server.options import OptionSet, parse as parse_flags
from kernel.endpoints.request import Request
from kernel_authn_token.tokenfile import TokenFileAuthenticator, TokenFileError, parse

CSV = '''secret-jane,jane,uid-1,"dev,ops"
 secret-bob, bob, uid-2
,nobody,uid-3
secret-dup,first,uid-4
secret-dup,second,uid-5,admins,ignored-column

"secret,with,commas",carol,uid-6,""
'''


def bearer(token: str | None) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": headers}, None, None)  # type: ignore[arg-type]


async def test_users_groups_and_kubes_record_rules() -> None:
    auth = TokenFileAuthenticator(parse(CSV, "tokens.csv"))
    assert len(auth) == 4  # the empty token is skipped, the duplicate keeps the last record
    jane = await auth.authenticate(bearer("secret-jane"))
    assert (jane.name, jane.uid, list(jane.groups)) == ("jane", "uid-1", ["dev", "ops"])
    bob = await auth.authenticate(bearer("secret-bob"))  # leading spaces trimmed, as Go's reader does
    assert (bob.name, bob.uid, list(bob.groups)) == ("bob", "uid-2", [])
    assert (await auth.authenticate(bearer("secret-dup"))).name == "second"
    assert list((await auth.authenticate(bearer("secret-dup"))).groups) == ["admins"]
    assert (await auth.authenticate(bearer("secret,with,commas"))).name == "carol"


async def test_unknown_tokens_and_other_schemes_are_not_ours() -> None:
    auth = TokenFileAuthenticator(parse(CSV, "tokens.csv"))
    for request in (bearer("secret-jan"), bearer("secret-janex"), bearer(None), bearer("")):
        assert await auth.authenticate(request) is None


def test_too_few_columns_is_an_error() -> None:
    with pytest.raises(TokenFileError, match=r"token file 'f' must have at least 3 columns "
                                             r"\(token, user name, user uid\), found 2"):
        parse("tok,user\n", "f")


def test_flag_validation(tmp_path) -> None:
    option_set = OptionSet()
    kernel_authn_token.kernel_add_options(option_set.for_plugin("authn_token"))

    def validate(*argv: str) -> list[str]:
        return kernel_authn_token.kernel_validate_options(parse_flags(option_set, list(argv)).options)

    assert validate() == []
    assert validate(f"--token-auth-file={tmp_path / 'none'}") == [
        f"--token-auth-file: {tmp_path / 'none'}: No such file or directory"]
    bad = tmp_path / "bad.csv"
    bad.write_text("only-a-token\n")
    assert validate(f"--token-auth-file={bad}") == [
        f"--token-auth-file: token file '{bad}' must have at least 3 columns (token, user name, "
        "user uid), found 1"]
    good = tmp_path / "good.csv"
    good.write_text(CSV)
    assert validate(f"--token-auth-file={good}") == []
