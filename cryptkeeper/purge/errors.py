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

"""Errors of the purge engine, each with a message fit for an operator."""


class PurgeError(Exception):
    """Base of the purge engine's errors; ``message`` says what to do."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class InvalidParams(PurgeError):
    """The job's parameters are malformed or out of range."""


class UnknownTable(PurgeError):
    """A table named in the parameters is not in the target's schema."""


class SchemaMismatch(PurgeError):
    """The archive's copy of a table no longer matches the source."""


class VerificationFailed(PurgeError):
    """An archived copy does not hold exactly the rows it should."""


class RestoreConflict(PurgeError):
    """Rows cannot go back: their keys exist in the source again."""


class NothingToRestore(PurgeError):
    """The job named for a restore archived no rows."""
