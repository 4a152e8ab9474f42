"""Sphinx tweaks for the fakeit book.

sphinx-thebe registers its inline configuration script once per read of the sources; when Sphinx reads twice (as
with sphinxcontrib-bibtex), pages carry two `const THEBE_JS_URL = ...` scripts and the browser reports a
redeclaration error. Identical scripts are dropped here, keeping the first.

sphinx-jupyterbook-latex turns figure numbering on for every builder, over `numfig: false` in `_config.yml`: the
book's only captioned figure (the protocol diagram) would read "Fig. 1", the name of the paper's figure that has its
own chapter. It is turned off again after that extension's handler.
"""


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # an inline script is registered once with filename None and once with "": treat both alike
        key = (getattr(js, "filename", None) or "", getattr(js, "priority", 0), repr(getattr(js, "attributes", js)))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def _no_figure_numbers(app, config):
    config.numfig = False


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)  # after the themes add theirs
    app.connect("config-inited", _no_figure_numbers, priority=900)  # after sphinx-jupyterbook-latex's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
