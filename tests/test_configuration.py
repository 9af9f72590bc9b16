"""validate_configuration(): what is accepted, and the message for each mistake."""

import pytest
from conftest import API_KEY, example_configuration, scripted_configuration

from connector import validate_configuration


def test_a_complete_configuration_is_typed():
    settings = validate_configuration(example_configuration(page_size="150"))

    assert settings.base_url == "https://fpr.example.test"
    assert settings.api_key == API_KEY
    assert settings.page_size == 150


def test_a_trailing_slash_on_base_url_is_tolerated():
    settings = validate_configuration({**example_configuration(), "base_url": "https://fpr.example.test/"})

    assert settings.base_url == "https://fpr.example.test"


@pytest.mark.parametrize("page_size", [None, "", "  "])
def test_page_size_defaults_to_200_the_apis_largest(page_size):
    configuration = example_configuration()
    if page_size is None:
        del configuration["page_size"]
    else:
        configuration["page_size"] = page_size

    assert validate_configuration(configuration).page_size == 200


@pytest.mark.parametrize("page_size", ["0", "201", "-5", "12.5", "ten", "1e2"])
def test_page_size_outside_1_to_200_is_refused(page_size):
    with pytest.raises(ValueError, match="'page_size' must be a whole number from 1 to 200"):
        validate_configuration(example_configuration(page_size=page_size))


@pytest.mark.parametrize("api_key", [None, "", "   "])
def test_a_missing_or_blank_api_key_is_refused(api_key):
    configuration = {**example_configuration(), "api_key": api_key}

    with pytest.raises(ValueError, match="'api_key' is required"):
        validate_configuration(configuration)


def test_an_api_key_with_surrounding_spaces_is_refused_without_echoing_it():
    with pytest.raises(ValueError, match="'api_key' has leading/trailing spaces") as error:
        validate_configuration({**example_configuration(), "api_key": f" {API_KEY}\n"})

    assert API_KEY not in str(error.value)


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        (None, "'base_url' is required"),
        ("", "'base_url' is required"),
        ("fpr.example.test", "'base_url' must be an http\\(s\\) URL"),
        ("ftp://fpr.example.test", "'base_url' must be an http\\(s\\) URL"),
        ("https://", "'base_url' must be an http\\(s\\) URL"),
        ("https://user:secret@fpr.example.test", "must not carry credentials"),
        ("http://fpr.example.test", "plain http to a remote host"),
    ],
)
def test_a_bad_base_url_is_refused_with_the_reason(base_url, message):
    with pytest.raises(ValueError, match=message):
        validate_configuration({**example_configuration(), "base_url": base_url})


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8765", "http://localhost:8765/", "http://[::1]:8765"])
def test_plain_http_is_allowed_on_loopback(base_url):
    assert validate_configuration({**example_configuration(), "base_url": base_url}).base_url.startswith("http://")


def test_settings_repr_does_not_show_the_key():
    assert API_KEY not in repr(validate_configuration(example_configuration()))


def test_a_sync_with_a_bad_configuration_fails_before_any_request(scripted, project):
    result = project.sync(scripted_configuration(scripted, page_size="500"))

    assert not result.ok
    assert "'page_size' must be a whole number from 1 to 200" in result.output
    assert scripted.calls == []
    assert project.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'fpr_records'") == [(0,)]
