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

"""Sphinx configuration of the cryptkeeper release notes."""

extensions = [
    'reno.sphinxext',
    'openstackdocstheme',
]

# openstackdocstheme builds bug and source links from these; without them it
# guesses from git remotes, which a fresh clone may not have.
openstackdocs_repo_name = 'cryptkeeper/cryptkeeper'
openstackdocs_bug_project = 'cryptkeeper'
openstackdocs_bug_tag = 'releasenotes'
openstackdocs_auto_name = False
openstackdocs_use_storyboard = False

html_theme = 'openstackdocs'
html_static_path = ['_static']
templates_path = ['_templates']

source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'

project = 'cryptkeeper Release Notes'
copyright = 'cryptkeeper developers'

# The release notes carry no version of their own: reno takes each note's
# version from the git history.
version = ''
release = ''

pygments_style = 'native'
