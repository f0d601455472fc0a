"""The Streamlit layer, and the only package that imports Streamlit: the frame around every page
(banner, sidebar filters), the caching of reads, and the sign-in gate.

May import everything below it: lib.display, lib.analytics, lib.store, lib.outreach, lib.frames,
lib.clock, lib.settings.
"""
