"""Test launcher: a service with the plain-JSON node class as default, for osmem (see tests/elastic.py).

``python -m tests.es_launch [module]`` runs ``<module>.__main__.main()``; model-api when no module is named.
"""

import importlib
import sys

from tests.elastic import install_plain_json_default

# At import, not under the guard below: the prediction log's sink process (multiprocessing "spawn")
# imports this module as its __mp_main__ and talks to osmem too.
install_plain_json_default()

if __name__ == "__main__":
    module = sys.argv[1] if len(sys.argv) > 1 else "scoreline_model_api"
    importlib.import_module(f"{module}.__main__").main()
