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

"""Collect the options of every module of this package for the generator."""

import importlib
import pkgutil

from cryptkeeper import conf as _conf

_SKIP = ('opts',)


def _modules():
    for info in pkgutil.iter_modules(_conf.__path__):
        if info.name in _SKIP:
            continue
        mod = importlib.import_module('cryptkeeper.conf.' + info.name)
        if not hasattr(mod, 'list_opts'):
            raise AttributeError(
                'cryptkeeper.conf.%s has no list_opts()' % info.name)
        yield mod


def list_opts():
    """Return [(group, [opts])] for oslo-config-generator."""
    merged = {}
    for mod in _modules():
        for group, opts in mod.list_opts().items():
            merged.setdefault(group, []).extend(opts)
    return list(merged.items())
