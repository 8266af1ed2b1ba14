"""Code formats: pure functions, no database."""

from __future__ import annotations

import itertools

from django_referral_rewards import codes


def test_random_codes_have_a_valid_check_character():
    for _ in range(200):
        code = codes.random_code()
        assert len(code) == 9
        assert set(code) <= set(codes.ALPHABET)
        assert codes.is_valid_generated(code)


def test_every_single_typo_and_adjacent_swap_is_caught():
    code = "7K3QX9MB"
    code += codes.check_character(code)
    for i, char in itertools.product(range(len(code)), codes.ALPHABET):
        if char != code[i]:
            assert not codes.is_valid_generated(code[:i] + char + code[i + 1 :])
    for i in range(len(code) - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code:
            assert not codes.is_valid_generated(swapped)


def test_normalize_ignores_case_spaces_and_dashes():
    assert codes.normalize(" ab12-cd34 e ") == "AB12CD34E"
    assert codes.normalize(None) == ""
    assert codes.normalize(123) == ""


def test_confusable_letters_read_as_digits_for_generated_codes():
    code = "0000011" + "1"
    code += codes.check_character(code)
    typed = code.replace("0", "O").replace("1", "l").upper()
    assert codes.is_valid_generated(typed)
    assert codes.lookup_candidates(typed) == [typed, code]
    assert codes.lookup_candidates("JUAN2025") == ["JUAN2025"]


def test_vanity_codes_do_not_look_generated():
    assert not codes.looks_generated("JUAN2025")
    assert not codes.looks_generated("SUMMER2025")
