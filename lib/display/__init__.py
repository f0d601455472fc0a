"""What the pages show and accept, without Streamlit: the filters and their URL, the log-a-call
form's rules, one call laid out for the lookup, error sentences, and the one Markdown escaper.

May import: lib.analytics, lib.outreach (its errors and value types), lib.frames, lib.clock,
lib.settings. Never Streamlit: these rules are tested as plain functions.
"""
