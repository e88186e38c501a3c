"""Sphinx configuration of the svcframe documentation.

Build with ``tox -e docs`` (warnings are errors), or by hand:
``sphinx-build -W -b html doc/source doc/build/html``.
"""

import svcframe

project = "svcframe"
copyright = "svcframe authors, Apache-2.0"
version = release = svcframe.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    # `.. show-options::` renders the options from the code's list_opts().
    "oslo_config.sphinxext",
]

# No network at build time: intersphinx only links what it can resolve offline.
intersphinx_mapping = {}

source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["build"]
pygments_style = "sphinx"
default_role = "literal"
nitpicky = False

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autoclass_content = "both"

html_theme = "furo"
html_title = f"svcframe {release}"
html_static_path = []
html_show_sourcelink = False
