"""The book builder: executes the notebooks with a preset through papermill and builds the Jupyter Book (`runner`:
findings.json, the cost page, the paper-scale plans), prepares them for JupyterLab (`lab`), and reads the locked
environment (`environment`).

May import every subpackage and the notebook helpers (`fakeit_lib.nb`); nothing imports it but the command line.
"""
