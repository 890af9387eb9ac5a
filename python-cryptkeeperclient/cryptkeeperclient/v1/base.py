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

"""Base class for the v1 resource managers."""

import logging
from urllib import parse

from cryptkeeperclient import exceptions

LOG = logging.getLogger(__name__)

# Following "next" links stops here so that a server which keeps answering
# with a next page cannot make a list run forever.
MAX_PAGES = 100


def quote(value):
    """Quote one path segment so an ID can never change the path."""
    return parse.quote(str(value), safe='')


def query_bool(value):
    """A boolean query parameter as the API reads it; None stays None."""
    if value is None:
        return None
    return 'true' if value else 'false'


class Manager:
    """Shared request and pagination helpers for one API resource."""

    # The collection's path; subclasses set it.
    path = None

    def __init__(self, api):
        self.api = api

    def _item(self, ident, *rest):
        """The path of one resource, or of a route below it."""
        return '/'.join((self.path, quote(ident)) + rest)

    @staticmethod
    def _json(resp):
        try:
            return resp.json()
        except ValueError as exc:
            raise exceptions.InvalidResponse(
                'The API answered %s %s with a body that is not JSON'
                % (resp.request.method, resp.url)) from exc

    def _get(self, path, params=None):
        return self._json(self.api.get(path, params=params))

    def _post(self, path, body=None):
        return self._json(self.api.post(path, json=body))

    def _patch(self, path, body):
        return self._json(self.api.patch(path, json=body))

    def _list(self, path, key, params=None, limit=None):
        """Return the items of a collection.

        With a limit, one page is fetched. Without one, "next" links are
        followed, up to MAX_PAGES pages.
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if limit is not None:
            params['limit'] = limit
            return self._items(self._get(path, params), key)
        items = []
        seen = set()
        for _page in range(MAX_PAGES):
            body = self._get(path, params)
            items.extend(self._items(body, key))
            next_params = self._next_params(body)
            if next_params is None:
                return items
            marker = tuple(sorted(next_params.items()))
            if marker in seen:
                LOG.warning('The API returned the same next page twice; '
                            'stopping after %d items', len(items))
                return items
            seen.add(marker)
            params = dict(params, **next_params)
        LOG.warning('Stopped after %(pages)d pages (%(count)d items); use '
                    '--limit and --marker to see the rest',
                    {'pages': MAX_PAGES, 'count': len(items)})
        return items

    @staticmethod
    def _items(body, key):
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise exceptions.InvalidResponse(
                "The API answer has no '%s' list" % key)
        return items

    @staticmethod
    def _next_params(body):
        # The next link is followed on our own endpoint, taking only its
        # query: the server may see itself under a different host name.
        link = body.get('next')
        if not link:
            return None
        query = dict(parse.parse_qsl(parse.urlsplit(link).query))
        return query or None
