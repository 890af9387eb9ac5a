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

"""Turn API resources into the (columns, data) that cliff formats."""

from osc_lib.cli import format_columns

# Links are for programs following the API, not for people reading output.
HIDDEN = frozenset(['links'])

ACRONYMS = {'id': 'ID', 'api': 'API'}


def label(field):
    """'created_at' -> 'Created At', 'project_id' -> 'Project ID'."""
    return ' '.join(ACRONYMS.get(word, word.capitalize())
                    for word in field.split('_'))


def _is_dict_list(value):
    return (isinstance(value, list) and bool(value)
            and all(isinstance(v, dict) for v in value))


def _text(value):
    if isinstance(value, list):
        return ', '.join(_text(v) for v in value)
    return str(value)


def flatten(value, prefix=''):
    """{'a': {'b': 1}, 'c': 2} -> ['a.b=1', 'c=2'], in the API's order."""
    pairs = []
    for key, item in value.items():
        name = '%s%s' % (prefix, key)
        if isinstance(item, dict) and item:
            pairs.extend(flatten(item, name + '.'))
        elif _is_dict_list(item):
            pairs.append('%s=[%s]' % (name, '; '.join(
                ', '.join(flatten(v)) for v in item)))
        else:
            pairs.append('%s=%s' % (name, _text(item)))
    return pairs


class DictColumn(format_columns.DictColumn):
    """A dict: one line of pairs, or one line per key when it nests."""

    def human_readable(self):
        value = self._value
        if not any(isinstance(v, (dict, list)) for v in value.values()):
            return ', '.join(flatten(value))
        lines = []
        for key, item in value.items():
            if _is_dict_list(item):
                lines.append('%s:' % key)
                lines.extend('  ' + ', '.join(flatten(v)) for v in item)
            elif isinstance(item, dict) and item:
                lines.append('%s: %s' % (key, ', '.join(flatten(item))))
            else:
                lines.append('%s: %s' % (key, _text(item)))
        return '\n'.join(lines)


class ListDictColumn(format_columns.ListDictColumn):
    """A list of dicts: one line of pairs per dict."""

    def human_readable(self):
        return '\n'.join(', '.join(flatten(v)) for v in self._value)


def cell(value):
    """Wrap dicts and lists so each formatter renders them its own way."""
    if isinstance(value, dict):
        return DictColumn(value)
    if _is_dict_list(value):
        return ListDictColumn(value)
    if isinstance(value, list):
        return format_columns.ListColumn(value)
    return value


def show(item, fields):
    """Columns and values for ShowOne: known fields first, then any new."""
    names = [f for f in fields if f in item]
    names += sorted(k for k in item if k not in fields and k not in HIDDEN)
    return tuple(names), tuple(cell(item[name]) for name in names)


def rows(items, fields):
    """Column labels and rows for Lister."""
    columns = tuple(label(f) for f in fields)
    data = (tuple(cell(item.get(f)) for f in fields) for item in items)
    return columns, data
