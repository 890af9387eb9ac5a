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

"""Every option is listed for the generator and documented."""

import pkgutil

from oslo_config import cfg
from oslo_db import options as db_options

from cryptkeeper import conf
from cryptkeeper.conf import database
from cryptkeeper.conf import opts
from cryptkeeper.conf import targets
from cryptkeeper.tests import base


class OptsTestCase(base.TestCase):

    def test_every_module_is_listed(self):
        names = {m.name for m in pkgutil.iter_modules(conf.__path__)}
        names.discard('opts')
        listed = {m.__name__.rsplit('.', 1)[1] for m in opts._modules()}
        self.assertEqual(names, listed)

    def test_every_option_has_help_and_a_type(self):
        for group, options in opts.list_opts():
            for opt in options:
                self.assertTrue(opt.help, '%s.%s has no help' % (group,
                                                                 opt.name))
                self.assertIsNot(cfg.Opt, type(opt))

    def test_integer_options_are_bounded(self):
        for _group, options in opts.list_opts():
            for opt in options:
                if isinstance(opt, (cfg.IntOpt, cfg.FloatOpt)):
                    self.assertIsNotNone(opt.type.min, opt.name)
                    self.assertIsNotNone(opt.type.max, opt.name)

    def test_fixed_option_names_and_defaults(self):
        defaults = {(str(group), opt.name): opt.default
                    for group, options in opts.list_opts()
                    for opt in options}
        self.assertEqual(9779, defaults[('api', 'port')])
        self.assertEqual('keystone', defaults[('api', 'auth_strategy')])
        self.assertEqual('file://$state_path/locks',
                         defaults[('coordination', 'backend_url')])

    def test_generator_shows_the_sqlite_default(self):
        # oslo.db lists [database]; the defaults hook gives it our URL.
        database.update_opt_defaults()
        [connection] = [o for o in db_options.database_opts
                        if o.name == 'connection']
        self.assertEqual('sqlite:///$state_path/cryptkeeper.sqlite',
                         connection.default)

    def test_target_groups_come_from_the_config(self):
        self.conf_fixture.set_targets(
            nova=('nova', 'mysql+pymysql://u:secret@db/nova'))
        target = targets.get_target(conf.CONF, 'nova')
        self.assertEqual(('nova', 'mysql+pymysql://u:secret@db/nova'),
                         (target.profile, target.connection))
        self.assertIsNone(targets.get_target(conf.CONF, 'other'))
        connection = [o for o in targets.opts if o.name == 'connection'][0]
        self.assertTrue(connection.secret)
