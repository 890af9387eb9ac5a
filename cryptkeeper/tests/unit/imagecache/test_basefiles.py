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

"""Names of base files: which kind Nova made, and which image they cache."""

import testtools

from cryptkeeper.imagecache import basefiles

HASH = 'c51f7cca6109bdfda781c98ce571ffffc01da130'


class BaseFilesTest(testtools.TestCase):

    def test_image_id_hash(self):
        # Computed with `printf %s <id> | sha1sum`, not with hashlib.
        self.assertEqual(
            HASH,
            basefiles.image_id_hash('a2d8f7e0-5b1c-4d3e-9f6a-0b1c2d3e4f50'))
        self.assertEqual('a9993e364706816aba3e25717850c26c9cd0d89d',
                         basefiles.image_id_hash('abc'))

    def test_classify(self):
        cases = [
            (HASH, basefiles.ORIGINAL, HASH, None),
            (HASH + '_10', basefiles.RESIZED, HASH, 10),
            (HASH + '_0', basefiles.RESIZED, HASH, 0),
            (HASH + '_sm', basefiles.LEGACY, HASH, None),
            ('swap_512', basefiles.SWAP, None, 512),
            ('ephemeral_20_40d1d2c', basefiles.EPHEMERAL, None, 20),
            ('ephemeral_0_default', basefiles.EPHEMERAL, None, 0),
        ]
        for name, kind, image_hash, size in cases:
            classified = basefiles.classify(name)
            self.assertEqual((kind, image_hash, size),
                             (classified.kind, classified.image_hash,
                              classified.size), name)
            self.assertTrue(basefiles.is_candidate_kind(kind))

    def test_other_is_never_a_candidate(self):
        for name in (HASH.upper(), HASH + '.part', HASH[:39],
                     HASH + '_10_2', HASH + '_', HASH + '_x', 'swap_',
                     'swap_1M', 'ephemeral_20', 'ephemeral_x_abc',
                     'ephemeral_1_a-b', HASH + '\n', 'compute_nodes',
                     HASH + '.info', 'swap_\u0661'):
            classified = basefiles.classify(name)
            self.assertEqual(basefiles.OTHER, classified.kind, repr(name))
            self.assertFalse(basefiles.is_candidate_kind(classified.kind))
