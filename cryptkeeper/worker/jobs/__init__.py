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

"""Job types a worker can run, by the job's ``type``."""

import abc

from cryptkeeper.worker.jobs import census
from cryptkeeper.worker.jobs import purge


class JobType(metaclass=abc.ABCMeta):
    """What a worker needs to run one kind of job.

    ``run(job, progress)`` does the work in the worker's thread and
    returns the job's result (a JSON-serialisable dict). It calls
    ``progress.update(...)`` as it goes and ``progress.check()`` at points
    where stopping is safe.
    """

    name = None

    def initial_progress(self):
        return {}

    @abc.abstractmethod
    def run(self, job, progress):
        """Do the job; return its result."""

    def summary(self, result):
        """Counts from a result worth keeping in the audit record."""
        return {}

    def secrets(self, job):
        """Strings that must never appear in a stored error message."""
        return ()


class CensusJob(JobType):
    name = 'census'

    def initial_progress(self):
        return census.initial_progress()

    def run(self, job, progress):
        return census.run(job, progress)

    def summary(self, result):
        return dict((result or {}).get('totals') or {})

    def secrets(self, job):
        return census.secrets(job)


class PurgeJob(JobType):
    name = 'purge'

    def initial_progress(self):
        return purge.initial_progress()

    def run(self, job, progress):
        return purge.run(job, progress)

    def summary(self, result):
        return purge.summary(result)

    def secrets(self, job):
        return purge.secrets(job)


_REGISTRY = {job_type.name: job_type
             for job_type in (CensusJob(), PurgeJob())}


def get(name):
    """Return the JobType registered as ``name``, or None."""
    return _REGISTRY.get(name)


def names():
    """The job types this worker claims."""
    return sorted(_REGISTRY)
