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

"""Sphinx configuration of the cryptkeeper API reference."""

extensions = [
    'os_api_ref',
    'openstackdocstheme',
]

# openstackdocstheme builds bug and source links from these; without them it
# guesses from git remotes, which a fresh clone may not have.
openstackdocs_repo_name = 'cryptkeeper/cryptkeeper'
openstackdocs_bug_project = 'cryptkeeper'
openstackdocs_bug_tag = 'api-ref'
openstackdocs_auto_name = False
openstackdocs_use_storyboard = False

html_theme = 'openstackdocs'
html_theme_options = {
    'sidebar_mode': 'toc',
}

source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'

project = 'Cleanup API Reference'
copyright = 'cryptkeeper developers'

pygments_style = 'native'

latex_documents = [
    ('index', 'CryptkeeperAPI.tex', 'Cleanup API Reference',
     'cryptkeeper developers', 'manual'),
]
