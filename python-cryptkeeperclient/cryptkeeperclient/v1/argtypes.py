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

"""argparse value types shared by the v1 commands."""

import argparse
import json


def positive_int(text):
    """An integer greater than zero."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            'must be a positive integer, not %r' % text)
    return value


def non_negative_float(text):
    """A number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(
            'must be a number of seconds, not %r' % text)
    return value


def key_value(text):
    """'key=value' -> (key, value); the value is JSON when it parses."""
    key, sep, raw = text.partition('=')
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            'expected key=value, not %r' % text)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value
