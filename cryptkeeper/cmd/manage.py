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

"""cryptkeeper-manage: schema management and audit-chain verification."""

import sys

from oslo_config import cfg

from cryptkeeper.audit import verify as audit_verify
from cryptkeeper.common import service
from cryptkeeper import conf
from cryptkeeper.db import api as db_api
from cryptkeeper.db import migration

CONF = conf.CONF


def db_sync():
    migration.upgrade(CONF.command.revision)
    print('Database is at revision %s.' % migration.version())
    return 0


def db_version():
    print(migration.version() or 'None (empty database)')
    return 0


def audit_verify_cmd():
    result = audit_verify.verify(db_api.get_instance())
    if result['valid']:
        print('Audit chain intact: %(records)d records, head %(head)s.'
              % result)
        return 0
    print('Audit chain BROKEN at record %(first_broken)s: %(reason)s '
          '(%(records)d records read, head %(head)s).' % result,
          file=sys.stderr)
    return 1


def _add_parsers(subparsers):
    db = subparsers.add_parser('db', help='Manage cryptkeeper\'s schema.')
    db_sub = db.add_subparsers(dest='db_command')
    db_sub.required = True
    sync = db_sub.add_parser('sync', help='Upgrade the schema to the '
                             'latest revision (or --revision).')
    sync.add_argument('--revision', default='head',
                      help='Revision to upgrade to (default: head).')
    sync.set_defaults(func=db_sync)
    ver = db_sub.add_parser('version', help='Print the schema revision.')
    ver.set_defaults(func=db_version)

    audit = subparsers.add_parser('audit', help='Audit log tools.')
    audit_sub = audit.add_subparsers(dest='audit_command')
    audit_sub.required = True
    verify = audit_sub.add_parser(
        'verify', help='Check the hash chain; exit 1 and name the first '
        'broken record if any record was edited or removed.')
    verify.set_defaults(func=audit_verify_cmd)


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                help='Available commands',
                                handler=_add_parsers)


def main(argv=None):
    CONF.register_cli_opt(command_opt)
    service.prepare_service(sys.argv[1:] if argv is None else argv)
    return CONF.command.func()


if __name__ == '__main__':
    sys.exit(main())
