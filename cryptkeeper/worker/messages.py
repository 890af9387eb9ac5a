# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Error messages safe to store in jobs, target states and the audit log."""

import re

from oslo_utils import strutils
from sqlalchemy.engine import url as sa_url
from sqlalchemy import exc as sa_exc

MAX_LENGTH = 1000
# scheme://user:password@host -> the password, wherever a URL appears in
# a driver's or library's message.
_URL_PASSWORD = re.compile(r'([A-Za-z][\w+.-]*://[^:/@\s]*:)[^@\s]*@')


def safe_message(exc, secrets=()):
    """Describe ``exc`` without passwords, in one bounded string.

    :param secrets: literal strings (a target's password) to mask too;
        drivers sometimes echo connection arguments without a URL.
    """
    if isinstance(exc, sa_exc.StatementError) and exc.orig is not None:
        # The driver's own error; SQLAlchemy's wrapper appends the SQL
        # and its parameters, which are noise here.
        text = '%s: %s' % (type(exc.orig).__name__, exc.orig)
    else:
        text = str(exc) or type(exc).__name__
    text = _URL_PASSWORD.sub(r'\1***@', text)
    text = strutils.mask_password(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '***')
    if len(text) > MAX_LENGTH:
        text = text[:MAX_LENGTH - 3] + '...'
    return text


def url_secrets(url):
    """The password of a database URL, for :func:`safe_message`."""
    if not url:
        return ()
    try:
        password = sa_url.make_url(url).password
    except Exception:
        # An unparsable URL: mask it whole.
        return (url,)
    return (password,) if password else ()
