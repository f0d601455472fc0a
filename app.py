"""Callboard's entry point: lib.ui.frame.run_app() runs the sign-in gate, the page navigation,
the frame (banner, sidebar filters), then the chosen page. Every page opens with
frame.page_frame(), which does the same itself if Streamlit ran the page without this file."""

from lib.ui import frame

frame.run_app()
