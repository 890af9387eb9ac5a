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

"""Turn API resources into what cliff formats; show job progress live."""

import shutil

from osc_lib.cli import format_columns

# Links are for programs following the API, not for people reading output.
HIDDEN = frozenset(['links'])

ACRONYMS = {'id': 'ID', 'api': 'API'}

# Per-table counts of purge jobs, in the order rows go through them.
COUNTS = ('planned', 'archived', 'deleted', 'restored')


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


def _pairs(value, prefix=''):
    pairs = []
    for key, item in value.items():
        name = '%s%s' % (prefix, key)
        if isinstance(item, dict) and item:
            pairs.extend(_pairs(item, name + '.'))
        elif _is_dict_list(item):
            pairs.append((name, '[%s]' % '; '.join(
                ', '.join(flatten(v)) for v in item)))
        else:
            pairs.append((name, _text(item)))
    return pairs


def flatten(value, prefix=''):
    """{'a': {'b': 1}, 'c': 2} -> ['a.b=1', 'c=2'], in the API's order."""
    return ['%s=%s' % pair for pair in _pairs(value, prefix)]


def is_per_table(value):
    """Whether value maps table names to counts, as purge jobs report."""
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(v, dict) for v in value.values()))


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _sums(tables, columns):
    totals = {}
    for column in columns:
        values = [row[column] for row in tables.values() if column in row]
        if values and all(_count(v) for v in values):
            totals[column] = sum(values)
    return totals


def _uneven(tables):
    """Keys whose nested dicts differ in keys from one table to the next.

    Those would make a column per key, mostly empty; they are shown as a
    line under the table instead. Same-shaped ones (age buckets) are
    columns.
    """
    shapes = {}
    for counts in tables.values():
        for key, value in counts.items():
            if isinstance(value, dict):
                shapes.setdefault(key, set()).add(tuple(value))
    return {key for key, seen in shapes.items() if len(seen) > 1}


def table_lines(tables, totals=None):
    """{table: {count: n}} -> lines of an aligned text table.

    Columns are the purge counts in the order rows go through them, then
    any other key; a last row holds ``totals`` (summed from the rows when
    not given) when there is more than one table.
    """
    uneven = _uneven(tables)
    # An empty detail ({} of "nothing blocked") says nothing in a column.
    rows = [(name, dict(_pairs({k: v for k, v in counts.items()
                                if k not in uneven and v != {}})))
            for name, counts in tables.items()]
    columns = [c for c in COUNTS if any(c in row for _n, row in rows)]
    for _name, row in rows:
        columns.extend(c for c in row if c not in columns)
    if len(rows) > 1:
        if totals is None:
            totals = _sums(tables, columns)
        if totals:
            rows.append(('(total)', dict(_pairs(totals))))
    short = [c.rsplit('.', 1)[-1] for c in columns]
    # age_buckets.lt_30d reads as lt_30d when nothing else is called that.
    headers = [h if short.count(h) == 1 else c
               for h, c in zip(short, columns, strict=True)]
    grid = [['table'] + headers]
    grid.extend([name] + [row.get(c, '-') for c in columns]
                for name, row in rows)
    widths = [max(len(line[i]) for line in grid)
              for i in range(len(grid[0]))]
    # Names read left to right, counts line up on their last digit.
    lines = ['  '.join([line[0].ljust(widths[0])] + [
        line[i].rjust(widths[i]) for i in range(1, len(widths))
    ]).rstrip() for line in grid]
    for name, counts in tables.items():
        for key in sorted(uneven):
            if counts.get(key):
                lines.append('%s %s: %s' % (name, key, ', '.join(
                    flatten(counts[key]))))
    return lines


def _totals_in_table(value):
    # Totals that fit the per-table columns are its last row, not a line.
    tables, totals = value.get('tables'), value.get('totals')
    if not (is_per_table(tables) and isinstance(totals, dict) and totals):
        return False
    columns = {name for row in tables.values() for name, _v in _pairs(row)}
    return {name for name, _v in _pairs(totals)} <= columns


def _per_table_block(tables, totals):
    if _totals_in_table({'tables': tables, 'totals': totals}):
        return table_lines(tables, totals)
    return table_lines(tables)


def _cell_lines(cells):
    # A cells fan-out: each cell's own facts, then its per-table counts.
    lines = []
    for name, cell in cells.items():
        tables = cell.get('tables')
        facts = {k: v for k, v in cell.items()
                 if not (k == 'tables' and is_per_table(tables))
                 and not (k == 'totals' and _totals_in_table(cell))}
        lines.append('%s: %s' % (name, ', '.join(flatten(facts))))
        if is_per_table(tables):
            lines.extend('  ' + line for line in _per_table_block(
                tables, cell.get('totals')))
    return lines


class DictColumn(format_columns.DictColumn):
    """A dict: one line of pairs, or one line per key when it nests."""

    def human_readable(self):
        value = self._value
        if not any(isinstance(v, (dict, list)) for v in value.values()):
            return ', '.join(flatten(value))
        lines = []
        totals = value.get('totals')
        for key, item in value.items():
            if key == 'tables' and is_per_table(item):
                lines.append('%s:' % key)
                lines.extend('  ' + line
                             for line in _per_table_block(item, totals))
            elif key == 'cells' and is_per_table(item):
                lines.append('%s:' % key)
                lines.extend('  ' + line for line in _cell_lines(item))
            elif key == 'totals' and _totals_in_table(value):
                continue
            elif _is_dict_list(item):
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


def _live_extras(progress):
    # The live line has room for what changes, not for empty slots.
    parts = []
    for key, value in progress.items():
        if value is None or value == [] or value == {}:
            continue
        if key == 'tables' and is_per_table(value):
            continue
        if key == 'cells' and is_per_table(value):
            parts.append('cells: %s' % ', '.join(
                '%s=%s' % (name, facts.get('state'))
                for name, facts in value.items()))
        else:
            parts.extend(flatten({key: value}))
    return parts


def _job_line(job):
    line = 'Job %s: %s' % (job.get('id'), job.get('state'))
    progress = job.get('progress')
    if isinstance(progress, dict):
        extras = _live_extras(progress)
        if extras:
            line += ' (%s)' % ', '.join(extras)
    return line


def _tables_of(job):
    progress = job.get('progress')
    tables = progress.get('tables') if isinstance(progress, dict) else None
    return tables if is_per_table(tables) else {}


class ProgressView:
    """Shows a job's progress on a stream while a command waits for it.

    On a terminal the job line and its per-table counts are redrawn in
    place. Anywhere else (a pipe, a log file, cron mail) each change is
    written once: the job line, then one line per table whose counts
    changed, so the output reads as a log.
    """

    # Cursor to the start of the first line drawn, then erase to the end.
    UP = '\x1b[%dF'
    ERASE = '\x1b[J'

    def __init__(self, stream, tty=None, width=None):
        self.stream = stream
        if tty is None:
            isatty = getattr(stream, 'isatty', None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.width = width
        self._drawn = 0
        self._seen = {}

    def update(self, job):
        """Show the job as it is now."""
        if self.tty:
            self._redraw(job)
        else:
            self._log(job)
        self.stream.flush()

    def _log(self, job):
        lines = [_job_line(job)]
        for name, counts in _tables_of(job).items():
            if self._seen.get(name) != counts:
                self._seen[name] = counts
                lines.append('  %s: %s' % (name, ', '.join(flatten(counts))))
        self.stream.write(''.join(line + '\n' for line in lines))

    def _redraw(self, job):
        lines = [_job_line(job)]
        tables = _tables_of(job)
        if tables:
            lines.extend('  ' + line for line in table_lines(tables))
        width = self.width or shutil.get_terminal_size().columns
        # A line wider than the terminal wraps and would throw the count
        # of lines to move back over off.
        lines = [line[:max(width - 1, 1)] for line in lines]
        if self._drawn:
            self.stream.write(self.UP % self._drawn + self.ERASE)
        self.stream.write(''.join(line + '\n' for line in lines))
        self._drawn = len(lines)
