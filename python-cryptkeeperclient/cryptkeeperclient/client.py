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

"""keystoneauth1 adapter that turns API errors into client exceptions."""

import re
from urllib import parse

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc

import cryptkeeperclient
from cryptkeeperclient import exceptions

SERVICE_TYPE = 'cleanup'

_ERRNO_REASON = re.compile(r'\[Errno -?\d+\] ([^\'")\]]+)')


def _connection_reason(exc):
    """Pick the operating system's words out of a long requests error."""
    found = _ERRNO_REASON.search(str(exc))
    if found:
        return found.group(1).strip()
    if isinstance(exc, ks_exc.SSLError):
        return 'TLS error (check --os-cacert, or --insecure for testing)'
    if isinstance(exc, ks_exc.ConnectTimeout):
        return 'timed out'
    return 'connection failed'


class SessionClient(adapter.Adapter):
    """Adapter for the cleanup service speaking JSON under /v1."""

    def __init__(self, session, **kwargs):
        kwargs.setdefault('service_type', SERVICE_TYPE)
        kwargs.setdefault('client_name', 'python-cryptkeeperclient')
        kwargs.setdefault('client_version', cryptkeeperclient.__version__)
        super().__init__(session, **kwargs)
        self._root_url = None

    def root_url(self):
        """Return the service root, without any version suffix."""
        if self._root_url is None:
            try:
                endpoint = self.get_endpoint()
            except (ks_exc.EndpointNotFound, ks_exc.MissingAuthPlugin):
                endpoint = None
            except ks_exc.ConnectionError as exc:
                raise exceptions.ConnectionError(
                    'Unable to reach the identity service: %s'
                    % _connection_reason(exc)) from exc
            except ks_exc.ClientException as exc:
                # Authentication failures, shown as one line like the rest.
                raise exceptions.ClientException(str(exc)) from exc
            if not endpoint:
                raise exceptions.EndpointNotFound(
                    "No endpoint for service type '%s' was found in the "
                    "catalog; give one with --os-endpoint" % SERVICE_TYPE)
            root = endpoint.rstrip('/')
            # Catalogs may list the versioned URL; our paths carry /v1.
            if root.endswith('/v1'):
                root = root[:-len('/v1')]
            self._root_url = root
        return self._root_url

    def request(self, url, method, **kwargs):
        """Send a request; raise a client exception for status >= 400."""
        if not parse.urlsplit(url).netloc:
            url = self.root_url() + '/' + url.lstrip('/')
        kwargs.setdefault('raise_exc', False)
        headers = kwargs.setdefault('headers', {})
        headers.setdefault('Accept', 'application/json')
        try:
            resp = super().request(url, method, **kwargs)
        except ks_exc.ConnectionError as exc:
            raise exceptions.ConnectionError(
                'Unable to connect to %s: %s'
                % (url, _connection_reason(exc))) from exc
        except ks_exc.ClientException as exc:
            raise exceptions.ClientException(str(exc)) from exc
        if resp.status_code >= 400:
            raise exceptions.from_response(resp, method=method, url=url)
        return resp
