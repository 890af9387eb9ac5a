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

"""Checks that the real-Keystone fixture gives each persona what it claims."""

import os
import tempfile

from keystoneauth1 import exceptions as ks_exc
from keystonemiddleware import auth_token
from oslo_config import cfg
import testtools.content
import webob
import webob.dec

from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import keystone


class TestKeystoneFixture(base.TestCase):
    """One Keystone for the class: starting one costs seconds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keystone = keystone.start_outside_test(keystone.KeystoneFixture())

    @classmethod
    def tearDownClass(cls):
        cls.keystone.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.addOnException(lambda exc_info: self.addDetail(
            'keystone-log', testtools.content.text_content(
                keystone.log_tail(self.keystone.log_path, 100))))

    def _inspect(self, token, as_user='admin', system=True):
        # The admin's system-scoped token may look at any token.
        sess = self.keystone.session_for(as_user, system=system)
        resp = sess.get(self.keystone.auth_url + '/auth/tokens',
                        headers={'X-Subject-Token': token},
                        raise_exc=False)
        return resp

    def _roles_and_scope(self, persona):
        resp = self._inspect(self.keystone.token_for(persona))
        self.assertEqual(200, resp.status_code, resp.text)
        body = resp.json()['token']
        roles = {r['name'] for r in body['roles']}
        if 'system' in body:
            scope = ('system', sorted(body['system']))
        else:
            scope = ('project', body['project']['name'])
        return body['user']['name'], roles, scope

    def test_personas_roles_and_scopes(self):
        # Roles include the ones implied by bootstrap's hierarchy
        # (admin > manager > member > reader).
        self.assertEqual(
            ('admin', {'admin', 'manager', 'member', 'reader'},
             ('project', 'admin')),
            self._roles_and_scope('admin'))
        self.assertEqual(('member', {'member', 'reader'},
                          ('project', 'demo')),
                         self._roles_and_scope('member'))
        self.assertEqual(('service', {'service'}, ('project', 'service')),
                         self._roles_and_scope('service'))
        self.assertEqual(('auditor', {'reader'}, ('system', ['all'])),
                         self._roles_and_scope('auditor'))

    def test_wrong_password_is_refused(self):
        creds = keystone.Credentials('member', 'not-the-password',
                                     project_name='demo')
        self.assertRaises(ks_exc.Unauthorized,
                          self.keystone.token_for, creds)

    def test_member_holds_no_system_role(self):
        self.assertRaises(ks_exc.Unauthorized,
                          self.keystone.token_for, 'member', system=True)

    def test_service_user_validates_other_tokens_member_cannot(self):
        member_token = self.keystone.token_for('member')
        auditor_token = self.keystone.token_for('auditor')
        resp = self._inspect(member_token, as_user='service', system=False)
        self.assertEqual(200, resp.status_code, resp.text)
        self.assertEqual('member', resp.json()['token']['user']['name'])
        # Without the service role a user may look at its own token only.
        resp = self._inspect(auditor_token, as_user='member', system=False)
        self.assertEqual(403, resp.status_code, resp.text)

    def test_authtoken_options_work_in_keystonemiddleware(self):
        @webob.dec.wsgify
        def app(req):
            return webob.Response(json={
                'roles': req.headers.get('X-Roles'),
                'project': req.headers.get('X-Project-Name'),
                'system': req.headers.get('OpenStack-System-Scope')})

        with tempfile.NamedTemporaryFile('w', suffix='.conf',
                                         delete=False) as f:
            f.write('[keystone_authtoken]\n')
            options = self.keystone.keystone_authtoken_options()
            for key, value in options.items():
                f.write(f'{key} = {value}\n')
        self.addCleanup(os.unlink, f.name)
        conf = cfg.ConfigOpts()
        conf(['--config-file', f.name], project='cryptkeeper-test')
        protected = auth_token.AuthProtocol(app, {'oslo_config_config': conf})

        resp = webob.Request.blank('/').get_response(protected)
        self.assertEqual(401, resp.status_int)
        self.assertIn('WWW-Authenticate', resp.headers)

        req = webob.Request.blank('/')
        req.headers['X-Auth-Token'] = 'gAAAAAnotavalidtoken'
        self.assertEqual(401, req.get_response(protected).status_int)

        req = webob.Request.blank('/')
        req.headers['X-Auth-Token'] = self.keystone.token_for('member')
        resp = req.get_response(protected)
        self.assertEqual(200, resp.status_int, resp.text)
        self.assertEqual({'member', 'reader'},
                         set(resp.json['roles'].split(',')))
        self.assertEqual('demo', resp.json['project'])

        req = webob.Request.blank('/')
        req.headers['X-Auth-Token'] = self.keystone.token_for('auditor')
        resp = req.get_response(protected)
        self.assertEqual(200, resp.status_int, resp.text)
        self.assertEqual('reader', resp.json['roles'])
        self.assertEqual('all', resp.json['system'])

    def test_register_endpoint_appears_in_catalog(self):
        url = 'http://127.0.0.1:1/cleanup-test'
        self.keystone.register_endpoint(url)
        sess = self.keystone.session_for('member')
        self.assertEqual(url, sess.get_endpoint(service_type='cleanup',
                                                interface='public',
                                                region_name='RegionOne'))
