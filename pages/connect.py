"""Connect Outreach: an admin connects Callboard to Outreach (its consent page and back) or
disconnects it; shown instead of the dashboard while no refresh token is known."""

from lib.ui import connect, frame

frame.page_frame()  # first: the sign-in gate (and, once connected, the frame)

connect.render()
