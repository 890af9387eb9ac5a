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

"""What every archive backend offers the purge executor and restore."""

import abc


class ArchiveBackend(metaclass=abc.ABCMeta):
    """Where archived rows go, and how they are checked and read back.

    ``keys`` are lists of primary-key values in the table's primary-key
    column order; ``rows`` are mappings of source column name to value.
    """

    #: 'shadow', 'database' or 'files'
    kind = None
    #: True when the copy lives in the source database, so copy and
    #: delete share one source transaction.
    atomic_with_source = False

    @abc.abstractmethod
    def prepare(self, graph, tables):
        """Create or check the archive's tables or directory.

        :raises: errors.SchemaMismatch when an existing archive table no
            longer matches the reflected source table.
        """

    @abc.abstractmethod
    def write(self, conn, table, rows, batch):
        """Copy ``rows`` of ``table`` (an sa.Table of the source).

        :param conn: the source connection in the batch's transaction
            (used when ``atomic_with_source``), else None.
        :returns: {"rows": n, "sha256": hexdigest, "location": str}
        """

    @abc.abstractmethod
    def verify(self, conn, table, keys, expected):
        """Check the archive holds exactly the rows of ``keys``.

        :param expected: {"rows": n, "sha256": hexdigest} of the source.
        :raises: errors.VerificationFailed
        """

    @abc.abstractmethod
    def flush(self, batch):
        """Make everything written for ``batch`` durable."""

    @abc.abstractmethod
    def contains(self, table, keys):
        """How many of ``keys`` the archive holds (settling a batch)."""

    @abc.abstractmethod
    def read(self, table, keys):
        """Yield the archived rows of ``keys`` as mappings."""

    @abc.abstractmethod
    def remove(self, table, keys):
        """Delete the archived copies of ``keys``; return how many."""

    @abc.abstractmethod
    def expire(self, table, older_than, limit):
        """Delete up to ``limit`` archived rows older than a time.

        :returns: how many were deleted; 0 when none are left.
        """

    @abc.abstractmethod
    def location(self):
        """Where the archive is, with no secret in it."""

    def close(self):  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections or files."""
