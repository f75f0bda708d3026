"""The providers file shipped with the repository is valid and follows the Real-vs-mock rule."""
from conftest import ROOT


def test_shipped_providers_file_loads_and_keeps_mock_apart():
    from fancy_lib.image.client import load_providers
    providers = load_providers(ROOT / "providers.toml")
    assert providers["local"].channel == "real" and providers["local"].api_key is None  # keys come from the environment
    assert providers["mock"].channel == "mock" and not providers["mock"].prices      # mock is never billed
