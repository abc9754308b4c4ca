"""The app's pages for browsers: a session's upload ticket, nothing else.

The uploader and the form widget speak the same ``srv.asmx`` protocol as any
client; what a browser page lacks is a ticket. :mod:`.views` gives a
logged-in user one through a session-authenticated, CSRF-protected POST;
:mod:`.sessions` keeps it with the session and logs it out with the user.
"""
