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

"""Links to resources, based on the public endpoint when set."""

import pecan
from wsme import types as wtypes

from cryptkeeper import conf

CONF = conf.CONF


def base_url():
    """The API's root URL as clients should see it."""
    return (CONF.api.public_endpoint or
            pecan.request.application_url).rstrip('/')


def build_url(*parts, query=None):
    url = '/'.join([base_url()] + [str(p).strip('/') for p in parts if p])
    return url + ('?' + query if query else '')


class Link(wtypes.Base):
    """A link to a resource."""

    href = wtypes.text
    """The URL of the resource."""

    rel = wtypes.text
    """How the resource relates to the document: self, bookmark..."""

    @classmethod
    def make(cls, rel, *parts):
        return cls(href=build_url(*parts), rel=rel)
