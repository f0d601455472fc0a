"""The one escaper for organisation and visitor text on its way into Streamlit's Markdown.

Streamlit's renderer runs in the browser, so these tests assert the escaped text, construct by
construct; tests/browser/test_crafted_links.py renders the same samples in Chromium and finds
none of the elements they would make.
"""

from __future__ import annotations

import re
import string

import pytest

from lib.display.markdown import JOINER, code_span, escape

J = JOINER

# A sample of each construct, and what escape() turns it into.
CONSTRUCTS = {
    # line-start constructs (the text may land at the start of a Markdown line)
    "atx heading": ("# Heading", r"\# Heading"),
    "setext heading ===": ("Title\n===", r"Title \=\=\="),
    "setext heading ---": ("Title\n---", r"Title \-\-\-"),
    "thematic break": ("***", r"\*\*\*"),
    "bullet -": ("- item", r"\- item"),
    "bullet *": ("* item", r"\* item"),
    "bullet +": ("+ item", r"\+ item"),
    "ordered 1.": ("1. item", r"1\. item"),
    "ordered 1)": ("1) item", r"1\) item"),
    "task list": ("- [ ] task", r"\- \[ \] task"),
    "block quote": ("> quoted", r"\> quoted"),
    "code fence": ("```\ncode\n```", r"\`\`\` code \`\`\`"),
    "tilde fence": ("~~~\ncode\n~~~", r"\~\~\~ code \~\~\~"),
    "indented code": ("    code", "code"),
    "table": ("| a | b |\n|---|---|", r"\| a \| b \| \|\-\-\-\|\-\-\-\|"),
    "directive block": ("::: note", rf"\:{J}\:{J}\: note"),
    # inline constructs
    "emphasis": ("**b** __c__ *i* _j_ ~~s~~",
                 r"\*\*b\*\* \_\_c\_\_ \*i\* \_j\_ \~\~s\~\~"),
    "code span": ("`code`", r"\`code\`"),
    "link": ("[x](y)", r"\[x\]\(y\)"),
    "image": ("![i](y)", r"\!\[i\]\(y\)"),
    "html": ("<b>bold</b><img src=x>", r"\<b\>bold\<\/b\>\<img src\=x\>"),
    "entity": ("&lt;b&gt;", r"\&lt\;b\&gt\;"),
    "footnote": ("a[^1]", r"a\[\^1\]"),
    "backslash": ("a\\*b", r"a\\\*b"),
    # Streamlit's own Markdown
    "color": (":red[text]", rf"\:{J}red\[text\]"),
    "background": (":blue-background[bg]", rf"\:{J}blue\-background\[bg\]"),
    "badge": (":green-badge[ok]", rf"\:{J}green\-badge\[ok\]"),
    "material icon": (":material/home:", rf"\:{J}material\/home\:"),
    "emoji shortcode": (":smile: :rocket:", rf"\:{J}smile\: \:{J}rocket\:"),
    "streamlit logo": (":streamlit:", rf"\:{J}streamlit\:"),
    "latex": ("$x^2$ $$y$$", r"\$x\^2\$ \$\$y\$\$"),
    # GitHub's literal autolinks
    "url": ("https://evil.example/x", rf"https\:{J}\/\/evil\.example\/x"),
    "www": ("WWW.evil.example", rf"WWW{J}\.evil\.example"),
    "e-mail": ("ann@northwind.example", rf"ann\@{J}northwind\.example"),
    "mailto": ("mailto:x", rf"mailto\:{J}x"),
}


@pytest.mark.parametrize("construct", list(CONSTRUCTS))
def test_each_construct_is_escaped(construct):
    text, expected = CONSTRUCTS[construct]
    assert escape(text) == expected


def test_every_ascii_punctuation_character_is_backslash_escaped():
    escaped = escape(string.punctuation)
    assert escaped.replace(J, "") == "".join(f"\\{char}" for char in string.punctuation)
    # Nothing else is: letters, digits, spaces and other scripts stay as they are.
    assert escape("Zoë Ødegaard 42 — 東京") == "Zoë Ødegaard 42 — 東京"
    assert escape("") == ""


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85"])
def test_text_is_one_line_so_nothing_starts_a_line(newline):
    escaped = escape(f"name{newline}==={newline}- item{newline}{newline}# h")
    assert escaped == r"name \=\=\= \- item  \# h"  # a blank line is two spaces
    assert not re.search(r"[\r\n\x85\u2028\u2029]", escaped)


def test_what_a_reader_sees_is_the_text():
    # A Markdown reader drops each backslash escape's backslash; the joiner is invisible.
    for text, _ in CONSTRUCTS.values():
        seen = re.sub(r"\\(.)", r"\1", escape(text)).replace(J, "")
        assert seen == " ".join(text.splitlines()).lstrip()


def test_a_colon_or_at_sign_before_a_space_gets_no_joiner():
    assert escape("Note: fine @ noon") == r"Note\: fine \@ noon"


@pytest.mark.parametrize(("text", "expected"), [
    ("ann@northwind.example", "` ann@northwind.example `"),
    ("a`b", "`` a`b ``"),
    ("``x``", "``` ``x`` ```"),
    ("a\n\n# h", "` a  # h `"),
    ("<b>x</b> *y* :red[z] $w$", "` <b>x</b> *y* :red[z] $w$ `"),
])
def test_a_code_span_holds_the_text_exactly_on_one_line(text, expected):
    assert code_span(text) == expected
