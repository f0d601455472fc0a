"""Pure analytics: calls frames (and lookups) in, figures, tables and Altair charts out.

No I/O, no Streamlit, no HTTP. May import: pandas, numpy, altair, phonenumbers (a number's zone and
its one spelling), lib.frames and lib.clock.
"""
