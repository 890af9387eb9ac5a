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

"""Base of the API tests: the full WSGI app over a real SQLite."""

import webtest

from cryptkeeper.api import app
from cryptkeeper.common import policy
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests import base

ADMIN = {'X-User-Id': 'admin-user', 'X-Project-Id': 'admin-project',
         'X-Roles': 'admin,member,reader', 'X-Identity-Status': 'Confirmed'}
SYSTEM_READER = {'X-User-Id': 'auditor', 'X-Roles': 'reader',
                 'OpenStack-System-Scope': 'all',
                 'X-Identity-Status': 'Confirmed'}
MEMBER = {'X-User-Id': 'member-user', 'X-Project-Id': 'demo',
          'X-Roles': 'member,reader', 'X-Identity-Status': 'Confirmed'}
PROJECT_READER = {'X-User-Id': 'reader-user', 'X-Project-Id': 'demo',
                  'X-Roles': 'reader', 'X-Identity-Status': 'Confirmed'}


class APITestCase(base.DbTestCase):
    """Drives the app of cryptkeeper.api.app, middleware and all.

    ``self.app`` runs with noauth, as the quickstart does;
    ``self.as_user`` trusts the identity headers a test sends, standing
    in for auth_token (the real Keystone is the functional suite's).
    """

    def setUp(self):
        super().setUp()
        policy.reset()
        self.addCleanup(policy.reset)
        self.conf_fixture.set_targets(
            demo='sqlite:////tmp/demo.sqlite',
            nova=('nova', 'mysql+pymysql://nova:s3cret@db.example/nova'))
        self.app = webtest.TestApp(app.setup_app('noauth'))
        self.as_user = webtest.TestApp(app.setup_app(app.TRUSTED_HEADERS))

    def count(self, model):
        with sqla_api.main_context.reader.using(_Ctx()) as session:
            return session.query(model).count()

    def counts(self):
        return self.count(models.Job), self.count(models.AuditRecord)

    def audit(self):
        return self.dbapi.list_audit(limit=1000)

    def create_job(self, target='demo', **kw):
        return self.app.post_json('/v1/jobs', dict(type='census',
                                                   target=target, **kw),
                                  status=202).json

    def walk(self, url, key):
        """Follow the next links from ``url``.

        :returns: the ``key`` items of every page, and each URL fetched.
        """
        items, urls = [], []
        while url:
            urls.append(url)
            page = self.app.get(url).json
            items += page[key]
            url = page.get('next')
        return items, urls

    def assertError(self, resp, code):
        self.assertEqual(code, resp.status_int)
        self.assertEqual('application/json', resp.content_type)
        err = resp.json['error']
        self.assertEqual(code, err['code'])
        self.assertTrue(err['title'])
        self.assertTrue(err['message'])
        self.assertNotIn('Traceback', resp.text)
        self.assertTrue(resp.headers.get('x-openstack-request-id'))
        return err['message']


class _Ctx:
    """A transaction holder for reads made by the test itself."""
