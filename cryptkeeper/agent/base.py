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

"""What every periodic task of the agent provides."""

import abc


class Task(metaclass=abc.ABCMeta):
    """One periodic task, run once per sweep.

    A task learns what to do from the API, acts on this host's disk and
    reports through the API; it keeps whatever it must remember between
    sweeps in its own state file. The console-log task is one; the
    image-cache task plugs in beside it the same way.
    """

    #: Name in ``[agent] tasks``, in heartbeats and in sweep summaries.
    name = None

    def __init__(self, conf, api, host, state_dir):
        self.conf = conf
        self.api = api
        self.host = host
        self.state_dir = state_dir

    @abc.abstractmethod
    def sweep(self, started_at):
        """Run once; return a JSON-able summary.

        :param started_at: when the sweep started (UTC datetime).
        :returns: a dict; ``complete`` True when every item was seen and
            reported, which lets the API forget what the sweep did not
            see.
        :raises: anything, when the task could not run at all; the sweep
            then reports it and goes on with the other tasks.
        """

    def info(self):
        """What the task adds to the agent's heartbeat info."""
        return {}
