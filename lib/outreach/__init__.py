"""The Outreach API client: HTTP, tokens, retries, the rate quota, paging and the two API
dialects (1.0 and v2). Nothing of Streamlit, the store or the analytics.

May import: the standard library, requests/urllib3, pandas, lib.clock and lib.frames.
"""
