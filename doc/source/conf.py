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

"""Sphinx configuration of the cryptkeeper documentation."""

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
    'oslo_policy.sphinxext',
    'oslo_policy.sphinxpolicygen',
]

# The generators run from the source directory, so paths are relative to it;
# the outputs land in _static and are linked from configuration/samples.
config_generator_config_file = (
    '../../etc/cryptkeeper/cryptkeeper-config-generator.conf')
sample_config_basename = '_static/cryptkeeper'
policy_generator_config_file = (
    '../../etc/cryptkeeper/cryptkeeper-policy-generator.conf')
sample_policy_basename = '_static/cryptkeeper'

# openstackdocstheme builds bug and source links from these; without them it
# guesses from git remotes, which a fresh clone may not have.
openstackdocs_repo_name = 'cryptkeeper/cryptkeeper'
openstackdocs_bug_project = 'cryptkeeper'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False
openstackdocs_use_storyboard = False

source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'

project = 'cryptkeeper'
copyright = 'cryptkeeper developers'

exclude_patterns = ['_build']
pygments_style = 'native'

html_theme = 'openstackdocs'
html_static_path = ['_static']

latex_documents = [
    ('index', 'doc-cryptkeeper.tex', 'cryptkeeper Documentation',
     'cryptkeeper developers', 'manual'),
]

man_pages = [
    ('cli/cryptkeeper-api', 'cryptkeeper-api',
     'cryptkeeper REST API server', ['cryptkeeper developers'], 1),
    ('cli/cryptkeeper-worker', 'cryptkeeper-worker',
     'cryptkeeper job worker', ['cryptkeeper developers'], 1),
    ('cli/cryptkeeper-manage', 'cryptkeeper-manage',
     'cryptkeeper management tool', ['cryptkeeper developers'], 1),
    ('cli/cryptkeeper-status', 'cryptkeeper-status',
     'cryptkeeper upgrade checks', ['cryptkeeper developers'], 1),
]
