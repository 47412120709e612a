"""Error messages on one line, of a readable length."""

from __future__ import annotations

from os_numa.cmd import message


def test_lines_are_joined_and_short_messages_kept():
    assert message.one_line("first\n  second\n\n third ") == "first second third"
    assert (
        message.one_line("hw:cpu_policy='bogus' is invalid") == "hw:cpu_policy='bogus' is invalid"
    )


def test_a_long_word_keeps_its_ends_and_says_how_long_it_was():
    value = "vcpus='" + "9" * 40_000 + "1'"
    short = message.one_line(f"The flavor is invalid: {value} must be an integer")
    assert short.startswith("The flavor is invalid: vcpus='999")
    assert "...99999999991' (40009 characters) must be an integer" in short
    assert len(short) < 200


def test_a_long_message_of_short_words_is_cut_and_says_so():
    text = " ".join(["word"] * 5_000)
    short = message.one_line(text)
    assert len(short) <= message.MAX_MESSAGE
    assert short.endswith(f"... ({len(text)} characters in all)")
