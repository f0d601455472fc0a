"""Text from Outreach or a user, made safe for Streamlit's Markdown: shown exactly as typed."""

# No Streamlit here: lib/ui and the pages pass these strings to st.markdown, st.caption,
# st.error/info/warning, labels and help texts, all of which read Markdown.

from __future__ import annotations

import re
import string

# Every ASCII punctuation character, each of which CommonMark lets a backslash escape. Escaping
# all of them covers, at once: inline constructs (* _ ` ~ [ ] ( ) ! < > & for emphasis, code,
# links, images, HTML and entities), line-start ones (# headings, = and - setext underlines,
# - * + 1. 1) lists, > quotes, ``` and ~~~ fences, | tables), Streamlit's :color[...],
# :material/...: and :emoji: shortcodes, and $ for its LaTeX.
_PUNCTUATION = frozenset(string.punctuation)

# Line breaks would start a new Markdown line, where `===` makes the line above a heading, `- `
# a list, `> ` a quote...: text from outside is one line. (\r\n first: one space, not two.)
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")

# GitHub's literal autolinks (https://..., www...., name@domain) and Streamlit's :streamlit:
# logo are found in the parsed text, after backslash escapes are gone, so escaping cannot stop
# them. An invisible WORD JOINER (U+2060) after "://"'s colon, after "@" and after "www" splits
# the pattern: the text looks the same but is no longer a link or a logo. (Copying it copies the
# joiner too: for an address a reader may copy, use code_span.)
JOINER = "\u2060"
_AUTOLINK_TRIGGER = re.compile(r"(?<=[:@])(?=\S)|(?<=www)(?=\.)", re.IGNORECASE)


def escape(text: str) -> str:
    """`text` as Streamlit's Markdown shows it literally: one line, every ASCII punctuation
    character backslash-escaped, autolinks and logo shortcodes broken by an invisible joiner.
    For text from Outreach (names, outcomes, error details) or a visitor (a link's values)."""
    flat = _LINE_BREAK.sub(" ", str(text)).lstrip()  # leading spaces could make a code block
    flat = _AUTOLINK_TRIGGER.sub(JOINER, flat)
    return "".join(f"\\{char}" if char in _PUNCTUATION else char for char in flat)


def code_span(text: str) -> str:
    """`text` as a Markdown code span: shown literally in a monospace font and copied exactly
    (no joiner), never a link, HTML or shortcode. For addresses a reader may copy and paste."""
    flat = _LINE_BREAK.sub(" ", str(text))  # a blank line would end the span's paragraph
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {flat} {fence}"
