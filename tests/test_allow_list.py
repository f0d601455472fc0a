"""The sign-in allow-list: parsing the setting and deciding who may open the dashboard."""

from __future__ import annotations

import pytest

from lib.ui.allow_list import AccessRules, AllowListError, is_allowed, parse_allow_list, rules_from

RULES = parse_allow_list(["@northwind.example", "Boss@Other.example"])


@pytest.mark.parametrize(
    "email",
    [
        "ann@northwind.example",
        "ANN@NorthWind.Example",
        "  ann@northwind.example ",
        "boss@other.example",
        "BOSS@OTHER.EXAMPLE",
    ],
)
def test_listed_domains_and_addresses_are_allowed_whatever_the_case(email):
    assert is_allowed(email, RULES)


@pytest.mark.parametrize(
    "email",
    [
        "ann@sales.northwind.example",  # a subdomain is another domain
        "ann@evilnorthwind.example",  # a suffix is not the domain
        "ann@northwind.example.evil.example",  # a prefix neither
        "ann@northwind.exampl",
        "colleague@other.example",  # only that one address at other.example
        "boss@other.example.evil.example",
        "ann@evil.example@northwind.example",  # two "@": refused, not split and guessed
        "ann northwind.example",
        "@northwind.example",
        "northwind.example",
        "",
        None,
        42,
    ],
)
def test_everything_else_is_refused(email):
    assert not is_allowed(email, RULES)


def test_an_address_the_provider_marks_unverified_is_refused():
    assert not is_allowed("ann@northwind.example", RULES, email_verified=False)
    assert not is_allowed("ann@northwind.example", RULES, email_verified="false")
    assert is_allowed("ann@northwind.example", RULES, email_verified=True)
    assert is_allowed("ann@northwind.example", RULES, email_verified="true")
    # A provider that sends no such claim is trusted as configured.
    assert is_allowed("ann@northwind.example", RULES, email_verified=None)


def test_a_comma_or_space_separated_string_works_like_a_list():
    text = " @northwind.example, boss@other.example ;northwind.test  x@y.example"
    rules = parse_allow_list(text)
    assert rules.domains == {"northwind.example", "northwind.test"}
    assert rules.addresses == {"boss@other.example", "x@y.example"}
    assert not rules.everyone


def test_a_bare_domain_means_the_same_as_at_domain():
    assert parse_allow_list(["northwind.example"]) == parse_allow_list(["@NorthWind.example"])


@pytest.mark.parametrize("setting", [None, "", "  ", [], ["", " "]])
def test_an_empty_allow_list_lets_nobody_in(setting):
    rules = parse_allow_list(setting)
    assert rules.is_empty
    assert not is_allowed("ann@northwind.example", rules)


def test_star_lets_in_anyone_signed_in_with_a_verified_address():
    rules = parse_allow_list("*")
    assert is_allowed("anyone@anywhere.example", rules)
    assert not is_allowed("anyone@anywhere.example", rules, email_verified=False)
    assert not is_allowed("not an address", rules)
    assert not is_allowed(None, rules)


@pytest.mark.parametrize(
    "setting",
    [
        ["@"],
        ["@northwind"],  # no dot: a typo, not a domain
        ["ann@"],
        ["a b@northwind.example"],
        ["@north wind.example"],
        ["<script>@northwind.example"],
        [42],
        {"@northwind.example": True},
        12,
    ],
)
def test_a_malformed_entry_is_an_error_not_silently_dropped(setting):
    with pytest.raises(AllowListError):
        parse_allow_list(setting)


def test_the_first_source_that_sets_it_wins():
    env = {"CALLBOARD_ALLOWED_EMAILS": "boss@other.example"}
    secrets = {"CALLBOARD_ALLOWED_EMAILS": ["@northwind.example"]}
    assert rules_from(env, secrets).addresses == {"boss@other.example"}
    assert rules_from({"CALLBOARD_ALLOWED_EMAILS": " "}, secrets).domains == {"northwind.example"}
    assert rules_from({}, {}) == AccessRules()
