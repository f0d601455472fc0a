"""Where calls are read from and kept: the data source (the one read path of the dashboard and
the CLI, the real API or the demo sandbox), the local store of calls and its sync with Outreach,
and the encrypted token store.

May import: lib.outreach, lib.frames, lib.clock, lib.settings, and lib.sandbox (demo mode).
"""
