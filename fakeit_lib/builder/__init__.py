"""The book builder: executes the notebooks with a preset through papermill (`notebooks`), fills in the pages the build
computes (`pages`: findings.json and the introduction's summary, the cost page, the paper-scale plans), builds the HTML
(`html`), all driven by `fakeit book` (`runner`); prepares the notebooks for JupyterLab (`lab`), and reads the locked
environment (`environment`).

May import every subpackage and the notebook helpers (`fakeit_lib.nb`); nothing imports it but the command line.
"""
