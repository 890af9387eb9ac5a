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

"""tooz coordination: one started coordinator per process, named locks."""

import contextlib
import os
import socket
import threading

from oslo_log import log
from oslo_utils import uuidutils
from tooz import coordination as tooz_coordination

from cryptkeeper import conf

CONF = conf.CONF
LOG = log.getLogger(__name__)

_lock = threading.Lock()
# (backend url, pid, coordinator): remembering the pid keeps a forked
# child from sharing its parent's coordinator, whose file locks and
# sessions belong to the parent.
_state = None


def _member_id():
    return ('%s:%d:%s' % (CONF.host or socket.gethostname(), os.getpid(),
                          uuidutils.generate_uuid()[:8])).encode()


def get_coordinator():
    """Return this process's started coordinator, starting it if needed.

    A changed ``backend_url`` (tests point each case at its own state
    directory) replaces the coordinator rather than reusing a stale one.
    """
    global _state
    url = CONF.coordination.backend_url
    with _lock:
        if _state is not None:
            old_url, pid, coordinator = _state
            if old_url == url and pid == os.getpid():
                return coordinator
            if pid == os.getpid():
                _stop_quietly(coordinator)
            _state = None
        coordinator = tooz_coordination.get_coordinator(url, _member_id())
        # start_heart runs tooz's own heartbeat thread, but only for
        # backends whose sessions expire without one (etcd3, zookeeper,
        # redis); the file backend needs none.
        coordinator.start(start_heart=True)
        _state = (url, os.getpid(), coordinator)
        return coordinator


def stop():
    """Stop this process's coordinator, releasing its session."""
    global _state
    with _lock:
        if _state is not None and _state[1] == os.getpid():
            _stop_quietly(_state[2])
        _state = None


def _stop_quietly(coordinator):
    try:
        coordinator.stop()
    except Exception:
        # Shutting down: the backend's session expires on its own.
        LOG.warning('Could not stop the coordinator cleanly',
                    exc_info=True)


@contextlib.contextmanager
def lock(name, blocking=True):
    """Hold the named lock across every process sharing the backend.

    Yields True once held. With ``blocking=False`` it yields False at
    once when someone else holds it, so a caller can skip work another
    process is already doing; ``blocking`` may also be a timeout in
    seconds.
    """
    tooz_lock = get_coordinator().get_lock(name.encode())
    acquired = tooz_lock.acquire(blocking=blocking)
    try:
        yield bool(acquired)
    finally:
        if acquired:
            tooz_lock.release()
