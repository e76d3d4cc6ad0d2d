"""The tutorial's two builds work as the tutorial says, before imgscan looks at them."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.e2e import docker_cli
from tests.e2e.conftest import Builds

pytestmark = pytest.mark.docker


def test_tutorial_server_refuses_a_request_without_credentials(tutorial_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tutorial_url, timeout=10)
    assert refused.value.code == 401


@pytest.mark.parametrize("case", ["tutorial-insecure", "tutorial-secure"])
def test_tutorial_image_prints_the_message_it_fetched_at_build_time(builds: Builds, case: str) -> None:
    output = docker_cli.docker("run", "--rm", "--network=none", builds[case].tag)
    assert output == "Hello, Admin\n"


def test_insecure_tutorial_image_hides_the_netrc_from_a_container(builds: Builds) -> None:
    tag = builds["tutorial-insecure"].tag
    listing = docker_cli.docker("run", "--rm", "--network=none", tag, "ls", "-a", "/root")
    assert ".netrc" not in listing.split()
