"""Test launcher: model-api with the plain-JSON node class as default, for osmem (see tests/elastic.py)."""

from tests.elastic import install_plain_json_default

if __name__ == "__main__":
    install_plain_json_default()
    from scoreline_model_api.__main__ import main

    main()
