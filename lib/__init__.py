"""Callboard: a dashboard of a sales team's Outreach calls."""
