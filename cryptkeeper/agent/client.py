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

"""The agent's client of cryptkeeper-api: its only way to the service.

A keystoneauth1 session from ``[service_credentials]`` finds the endpoint
of service type ``cleanup`` in the catalog and sends a token; with
``[agent] api_endpoint`` set and no auth_type, the same session talks
plain HTTP without a token to an API running with noauth (the local
quickstart).
"""

import json
from urllib import parse

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading

from cryptkeeper.conf import service_credentials
from cryptkeeper import version

SERVICE_TYPE = 'cleanup'


class ApiError(Exception):
    """The API could not be reached, or refused or failed a request."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class ConfigError(ApiError):
    """Neither credentials nor an endpoint are configured."""


def _quote(value):
    return parse.quote(str(value), safe='')


class Client:
    """Typed calls of the agent routes of /v1."""

    def __init__(self, session, endpoint=None, interface='internal',
                 region_name=None, timeout=None):
        self.adapter = adapter.Adapter(
            session, service_type=SERVICE_TYPE, interface=interface,
            region_name=region_name, endpoint_override=endpoint,
            client_name='cryptkeeper-agent',
            client_version=version.version_string(),
            connect_retries=2)
        self.timeout = timeout
        self._root = None

    @classmethod
    def from_conf(cls, conf):
        """Build from [service_credentials] and [agent] api_endpoint."""
        group = service_credentials.GROUP
        auth = None
        if conf[group].auth_type:
            auth = ks_loading.load_auth_from_conf_options(conf, group)
        elif not conf.agent.api_endpoint:
            raise ConfigError(
                'No way to reach the API: set [service_credentials] '
                'auth_type and its options (Keystone service '
                'credentials), or [agent] api_endpoint for an API running '
                'with [api] auth_strategy = noauth.')
        session = ks_loading.load_session_from_conf_options(
            conf, group, auth=auth)
        return cls(session, endpoint=conf.agent.api_endpoint,
                   interface=conf[group].interface,
                   region_name=conf[group].region_name,
                   timeout=conf.agent.api_timeout)

    def root(self):
        """The service root URL, without a version suffix."""
        if self._root is None:
            try:
                endpoint = self.adapter.get_endpoint()
            except ks_exc.ClientException as exc:
                raise ApiError('cannot find the API endpoint: %s'
                               % exc) from exc
            if not endpoint:
                raise ApiError("no endpoint of service type '%s' in the "
                               "catalog; set [agent] api_endpoint"
                               % SERVICE_TYPE)
            root = endpoint.rstrip('/')
            if root.endswith('/v1'):
                root = root[:-len('/v1')]
            self._root = root
        return self._root

    def request(self, method, path, body=None):
        """Send one request; return the decoded JSON answer or None."""
        url = self.root() + path
        kwargs = {'raise_exc': False,
                  'headers': {'Accept': 'application/json'}}
        if body is not None:
            kwargs['json'] = body
        if self.timeout:
            kwargs['timeout'] = self.timeout
        try:
            resp = self.adapter.request(url, method, **kwargs)
        except ks_exc.ClientException as exc:
            raise ApiError('%s %s failed: %s' % (method, url, exc)) from exc
        if resp.status_code >= 400:
            message = resp.text[:500]
            try:
                message = resp.json()['error']['message']
            except (ValueError, KeyError, TypeError):
                pass
            raise ApiError('%s %s answered %d: %s'
                           % (method, url, resp.status_code, message),
                           status=resp.status_code)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ApiError('%s %s answered with a body that is not JSON'
                           % (method, url)) from exc

    def heartbeat(self, host, tasks, info, sweep=None):
        body = {'version': version.version_string(), 'tasks': list(tasks),
                'info': info}
        if sweep is not None:
            body['sweep'] = sweep
        return self.request('POST', '/v1/agents/%s/heartbeat' % _quote(host),
                            body)

    def console_policies(self, host):
        """Every console-log policy, as the API describes them."""
        body = self.request('GET', '/v1/agents/%s/console-policies'
                            % _quote(host))
        policies = (body or {}).get('console_policies')
        if not isinstance(policies, list):
            raise ApiError('the API answer has no console_policies list')
        return policies

    def report_console_logs(self, host, entries, runaway_bytes_per_hour,
                            max_body_bytes):
        """Send entries in as few requests as the body size allows.

        Returns (accepted, audited) summed over the requests. Entries are
        sent in order, so a retried action (from the outbox) lands before
        the newer measurement of the same log.
        """
        path = '/v1/agents/%s/console-logs' % _quote(host)
        accepted = audited = 0
        for chunk in chunks(entries, max_body_bytes):
            answer = self.request('POST', path, {
                'runaway_bytes_per_hour': runaway_bytes_per_hour,
                'console_logs': chunk}) or {}
            accepted += answer.get('accepted', 0)
            audited += answer.get('audited', 0)
        return accepted, audited


# Room for the envelope around the entries of one report.
_ENVELOPE = 256


def chunks(entries, max_body_bytes):
    """Split entries into lists whose JSON stays under max_body_bytes.

    An entry larger than the limit on its own still goes, alone: the API
    refuses it with 413 and the agent reports that, rather than the
    agent dropping it silently.
    """
    chunk, size = [], _ENVELOPE
    for entry in entries:
        length = len(json.dumps(entry)) + 2
        if chunk and size + length > max_body_bytes:
            yield chunk
            chunk, size = [], _ENVELOPE
        chunk.append(entry)
        size += length
    if chunk:
        yield chunk
