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

"""The OpenAPI document covers every route the controllers serve."""

import inspect
import re

from pecan import rest
from pecan import util as pecan_util

from cryptkeeper.api.controllers import root
from cryptkeeper.api import openapi
from cryptkeeper.tests.unit.api import base

_ITEM = {'get_one': 'get', 'put': 'put', 'patch': 'patch',
         'delete': 'delete'}
_COLLECTION = {'get_all': 'get', 'get': 'get', 'post': 'post'}


def _join(path, part):
    return path.rstrip('/') + '/' + part


def _nargs(func):
    params = inspect.signature(func).parameters
    return len([p for p in params.values()
                if p.name != 'self' and p.kind == p.POSITIONAL_OR_KEYWORD
                and p.default is p.empty])


def walk(controller, path='/'):
    """Every (path, method) a pecan RestController tree routes."""
    routes = set()
    assert isinstance(controller, rest.RestController), controller
    for name, method in list(_COLLECTION.items()) + list(_ITEM.items()):
        func = getattr(controller, name, None)
        if func is None or not pecan_util.iscontroller(func):
            continue
        target = path if name in _COLLECTION else _join(path, '{}')
        routes.add((target, method))
    for action, methods in controller._custom_actions.items():
        func = getattr(controller, action)
        base_path = _join(path, '{}') if _nargs(func) else path
        for method in methods:
            routes.add((_join(base_path, action), method.lower()))
    for name in dir(type(controller)):
        child = getattr(controller, name)
        if isinstance(child, rest.RestController):
            routes |= walk(child, _join(path, name))
    return routes


def _documented(doc):
    return {(re.sub(r'\{[^}]+\}', '{}', path), method)
            for path, ops in doc['paths'].items() for method in ops}


class OpenAPITestCase(base.APITestCase):

    def test_every_route_is_documented_and_nothing_else(self):
        routes = walk(root.RootController())
        doc = self.app.get('/v1/openapi.json').json
        self.assertEqual(set(), routes - _documented(doc),
                         'routes missing from the OpenAPI document')
        self.assertEqual(set(), _documented(doc) - routes,
                         'documented routes no controller serves')
        self.assertGreaterEqual(len(routes), 13)

    def test_walker_sees_nested_routes(self):
        routes = walk(root.RootController())
        self.assertIn(('/v1/targets/{}/census', 'get'), routes)
        self.assertIn(('/v1/audit/verify', 'get'), routes)
        self.assertIn(('/v1/jobs/{}/cancel', 'post'), routes)
        self.assertIn(('/v1/openapi.json', 'get'), routes)

    def test_refs_resolve_and_servers_follow_endpoint(self):
        self.config(public_endpoint='https://ck.example', group='api')
        doc = self.app.get('/v1/openapi.json').json
        self.assertEqual('3.0.3', doc['openapi'])
        self.assertEqual([{'url': 'https://ck.example'}], doc['servers'])
        refs = set(re.findall(r'"#/components/schemas/([A-Za-z]+)"',
                              self.app.get('/v1/openapi.json').text))
        self.assertLessEqual(refs, set(doc['components']['schemas']))

    def test_security_follows_auth_strategy(self):
        doc = self.app.get('/v1/openapi.json').json
        self.assertNotIn('security', doc)
        self.config(auth_strategy='keystone', group='api')
        doc = self.as_user.get('/v1/openapi.json').json
        self.assertEqual([{'keystone': []}], doc['security'])
        self.assertEqual([], doc['paths']['/v1']['get']['security'])
        self.assertNotIn('security', doc['paths']['/v1/jobs']['get'])

    def test_parameters_match_the_validation(self):
        self.config(max_limit=77, group='api')
        doc = openapi.document('http://x')
        params = {p['name']: p['schema'] for p in
                  doc['paths']['/v1/jobs']['get']['parameters']}
        self.assertEqual(77, params['limit']['maximum'])
        self.assertEqual(['created_at', 'updated_at', 'state', 'type',
                          'target'], params['sort_key']['enum'])
