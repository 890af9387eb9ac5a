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

"""The kinds of file Nova keeps in an image cache directory."""

import dataclasses
import hashlib
import re

ORIGINAL = 'original'
RESIZED = 'resized'
LEGACY = 'legacy'
SWAP = 'swap'
EPHEMERAL = 'ephemeral'
OTHER = 'other'
KINDS = (ORIGINAL, RESIZED, LEGACY, SWAP, EPHEMERAL, OTHER)
# Kinds named after an image id: a reference to the image covers them.
IMAGE_KINDS = (ORIGINAL, RESIZED, LEGACY)
# Nova ages resized and legacy files with its shorter "resized" minimum;
# originals, swap and ephemeral files with the "original" one.
RESIZED_AGE_KINDS = (RESIZED, LEGACY)

# Nova writes the fingerprint with hexdigest(), so lower case only; an
# upper-case look-alike is not a file Nova made, and stays "other".
_HASH = '[0-9a-f]{40}'
_ORIGINAL_RE = re.compile(r'(%s)\Z' % _HASH)
_RESIZED_RE = re.compile(r'(%s)_([0-9]+)\Z' % _HASH)
_LEGACY_RE = re.compile(r'(%s)_sm\Z' % _HASH)
_SWAP_RE = re.compile(r'swap_([0-9]+)\Z')
_EPHEMERAL_RE = re.compile(r'ephemeral_([0-9]+)_([0-9A-Za-z]+)\Z')


@dataclasses.dataclass(frozen=True, slots=True)
class BaseName:
    """A classified base file name.

    ``image_hash`` is the sha1 fingerprint for image kinds; ``size`` is
    GB for resized and ephemeral files, MB for swap files.
    """

    name: str
    kind: str
    image_hash: str | None = None
    size: int | None = None


def image_id_hash(image_id):
    """The fingerprint Nova names a cached image after: sha1 hex of its id."""
    return hashlib.sha1(image_id.encode('utf-8'),
                        usedforsecurity=False).hexdigest()


def classify(name):
    """Return the BaseName of one entry of the cache directory."""
    match = _ORIGINAL_RE.match(name)
    if match:
        return BaseName(name, ORIGINAL, image_hash=match.group(1))
    match = _RESIZED_RE.match(name)
    if match:
        return BaseName(name, RESIZED, image_hash=match.group(1),
                        size=int(match.group(2)))
    match = _LEGACY_RE.match(name)
    if match:
        return BaseName(name, LEGACY, image_hash=match.group(1))
    match = _SWAP_RE.match(name)
    if match:
        return BaseName(name, SWAP, size=int(match.group(1)))
    match = _EPHEMERAL_RE.match(name)
    if match:
        return BaseName(name, EPHEMERAL, size=int(match.group(1)))
    return BaseName(name, OTHER)


def is_candidate_kind(kind):
    """Whether a file of this kind may ever be removed (never "other")."""
    return kind in KINDS and kind != OTHER
