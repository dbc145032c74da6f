# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny WSGI app for Tether's gunicorn demo (gunicorn.json).

Python 3 standard library only.

    gunicorn --workers 2 --bind 127.0.0.1:8767 wsgi_app:app

Every request gets {"pid": <the worker's pid>}, so repeated requests show
which of gunicorn's workers answered.
"""

import os


def app(environ, start_response):
    body = b'{"pid": %d}\n' % os.getpid()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
