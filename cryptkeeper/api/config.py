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

"""Configuration of the pecan application itself."""

# Routes a client may reach without a token: version discovery and the
# API description.
PUBLIC_ROUTES = ('/', '/v1', '/v1/openapi.json')

PECAN = {
    'root': 'cryptkeeper.api.controllers.root.RootController',
    'modules': ['cryptkeeper.api'],
    # Unknown routes must be 404s, not redirects to a slash-ended URL.
    'force_canonical': False,
    # '/v1/openapi.json' is a route of its own, not '/v1/openapi' as JSON.
    'guess_content_type_from_ext': False,
    'debug': False,
}
