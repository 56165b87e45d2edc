import pytest

from corral.errors import InvalidHostError
from corral.transport.hoststring import HostSpec, parse_host_string


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web1", HostSpec("web1")),
        ("deploy@web1", HostSpec("web1", user="deploy")),
        ("deploy@web1:2222", HostSpec("web1", user="deploy", port=2222)),
        ("web1.example.com:22", HostSpec("web1.example.com", port=22)),
        ("[::1]:2200", HostSpec("::1", port=2200)),
        ("[fe80::1%eth0]", HostSpec("fe80::1%eth0")),
        ("root@[2001:db8::5]:22", HostSpec("2001:db8::5", user="root", port=22)),
        ("2001:db8::5", HostSpec("2001:db8::5")),
        ("127.0.0.1", HostSpec("127.0.0.1")),
        ("a.b@c@host", HostSpec("host", user="a.b@c")),
    ],
)
def test_parse_host_string_splits_user_host_and_port(text: str, expected: HostSpec) -> None:
    assert parse_host_string(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "web1:0",
        "web1:65536",
        "web1:ssh",
        "host;rm -rf /",
        "$(reboot)",
        "-oProxyCommand=x",
        "we b",
        "user name@web1",
        "[::1",
        "[::1]x",
        "@web1",
        "`id`@web1",
    ],
)
def test_parse_host_string_rejects_bad_input_with_a_typed_error(text: str) -> None:
    with pytest.raises(InvalidHostError) as info:
        parse_host_string(text)
    assert repr(text) in str(info.value)
