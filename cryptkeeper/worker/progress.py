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

"""Progress of a running job, shared by its runner and its heartbeat."""

import copy
import threading

from cryptkeeper.common import exception


class Interrupted(exception.CryptkeeperException):
    """The runner was asked to stop; ``reason`` says why."""

    msg_fmt = 'Job interrupted: %(reason)s'


class Progress:
    """Per-step counts a runner updates and the heartbeat publishes.

    It also carries the stop request: a runner calls :meth:`check` at
    its safe points, which raises :class:`Interrupted` once the job was
    cancelled, its lease was lost or the worker is shutting down.
    """

    CANCELLED = 'cancelled'
    LEASE_LOST = 'lease_lost'
    SHUTDOWN = 'shutdown'

    def __init__(self, initial=None):
        self._lock = threading.Lock()
        self._counts = dict(initial or {})
        self._reason = None
        self._stopped = threading.Event()

    def update(self, **counts):
        with self._lock:
            self._counts.update(counts)

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._counts)

    def interrupt(self, reason):
        # The first reason wins: a lost lease must not be reported later
        # as a cancellation, which would make the worker write again.
        with self._lock:
            if self._reason is None:
                self._reason = reason
        self._stopped.set()

    @property
    def reason(self):
        with self._lock:
            return self._reason

    def check(self):
        if self._stopped.is_set():
            raise Interrupted(reason=self.reason)

    def wait(self, seconds):
        """Sleep up to ``seconds``; return True if interrupted meanwhile."""
        return self._stopped.wait(seconds)
