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

"""Base of the paginated collections."""

from urllib import parse

import pecan
from wsme import types as wtypes

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.common import exception


class Collection(base.APIBase):
    """A page of a collection, with a link to the next page if any."""

    next = wtypes.text
    """URL of the next page; absent on the last page."""

    @classmethod
    def page(cls, items, limit, resource, marker_of):
        """Build a page from up to ``limit + 1`` items.

        The extra item only says whether a next page exists; it is
        dropped. The next link keeps the request's other parameters.
        """
        coll = cls()
        setattr(coll, cls._items, items[:limit])
        if len(items) > limit:
            params = [(k, v) for k, v in pecan.request.GET.items()
                      if k not in ('marker', 'limit')]
            params += [('limit', limit), ('marker', marker_of(
                items[limit - 1]))]
            coll.next = link.build_url(
                'v1', resource, query=parse.urlencode(params))
        return coll


def fetch(list_rows, limit, marker, sort_key, sort_dir, sort_keys,
          not_found, what, check_marker=utils.validate_uuid, **list_args):
    """Validate the paging of a GET and fetch one page of rows, plus one.

    ``list_rows`` is the dbapi's list method, called with ``list_args``
    (the filters) besides the paging. Returns the page size and the rows,
    for ``Collection.page``. A marker naming nothing is the client's
    mistake: 400 saying the marker ``is not <what>``, rather than the 404
    of the resource it does not name.
    """
    limit = utils.validate_limit(limit)
    utils.validate_sort(sort_key, sort_dir, sort_keys)
    check_marker('marker', marker)
    try:
        rows = list_rows(limit=limit + 1, marker=marker, sort_key=sort_key,
                         sort_dir=sort_dir, **list_args)
    except not_found:
        raise exception.Invalid(reason='marker %s is not %s.'
                                % (marker, what)) from None
    return limit, rows
