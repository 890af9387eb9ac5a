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

"""Policy enforcement: defaults in code, overrides from policy files."""

import sys
import threading

from oslo_log import log
from oslo_policy import policy

from cryptkeeper.audit import records
from cryptkeeper.common import exception
from cryptkeeper.common import policies
from cryptkeeper import conf
from cryptkeeper.db import api as db_api

CONF = conf.CONF
LOG = log.getLogger(__name__)

_ENFORCER = None
_LOCK = threading.Lock()


def init(policy_file=None, rules=None):
    """Create the global Enforcer once and register the defaults."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            enforcer = policy.Enforcer(CONF, policy_file=policy_file,
                                       rules=rules)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER = enforcer
    return _ENFORCER


def reset():
    """Forget the Enforcer, so the next check reads the config anew."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is not None:
            _ENFORCER.clear()
        _ENFORCER = None


def action_of(rule):
    """'cryptkeeper:job:create' -> 'job.create', the audited action."""
    return rule.split(':', 1)[-1].replace(':', '.')


def enforce(context, rule, target=None, resource_id=None):
    """Check ``rule`` for ``context``; audit and raise when refused.

    :raises: PolicyNotAuthorized (403), after appending a ``denied``
        record, so refused attempts are as visible as granted ones.
    """
    enforcer = init()
    target = target if target is not None else {
        'project_id': context.project_id, 'user_id': context.user_id}
    try:
        allowed = enforcer.enforce(rule, target, context)
    except policy.InvalidScope:
        allowed = False
    if allowed:
        return
    action = action_of(rule)
    LOG.info('Policy refused %(action)s to user %(user)s',
             {'action': action, 'user': context.user_id})
    db_api.get_instance().append_audit(records.entry(
        context, action, outcome='denied', reason=rule,
        resource_type=action.split('.', 1)[0],
        resource_id=resource_id[:255] if resource_id else None))
    raise exception.PolicyNotAuthorized(action=rule)


def get_enforcer():
    """Return the Enforcer for the oslopolicy command-line tools.

    Those tools call this with their own argv; oslo.config must not see
    their options, only the config files they name.
    """
    conf_args = []
    skip = False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg.split('=', 1)[0] in ('--namespace', '--output-file'):
            skip = '=' not in arg
            continue
        conf_args.append(arg)
    CONF(conf_args, project='cryptkeeper')
    return init()
