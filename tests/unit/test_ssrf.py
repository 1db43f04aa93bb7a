"""Webhook URLs may not reach private networks, however the address is written or resolved."""

import pytest

from salesbot.errors import InvalidInput
from salesbot.webhooks import urls
from salesbot.webhooks.delivery import Sender

NAMES = {  # what a hostile DNS would answer
    "localhost.localdomain": ["127.0.0.1"],
    "evil.example": ["127.0.0.1"],
    "metadata.google.internal": ["169.254.169.254"],
    "intranet.example": ["10.0.0.5"],
    "half.example": ["93.184.216.34", "192.168.1.10"],
    "v6.example": ["fd00::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "shop-crm.example": ["93.184.216.34"],
}


def resolver(host, port):
    return NAMES[host] if host in NAMES else urls.resolve(host, port)


HOSTILE = [
    # loopback in every notation
    "https://127.0.0.1/", "https://127.0.0.2/", "https://127.255.255.254/", "https://127.1/", "https://2130706433/",
    "https://0x7f000001/", "https://0x7f.0x0.0x0.0x1/", "https://0177.0.0.1/", "https://0177.0000.0000.0001/",
    "https://017700000001/", "https://127.000.000.001/", "https://localhost/", "https://localhost.localdomain/",
    "https://evil.example/", "https://[::1]/", "https://[0:0:0:0:0:0:0:1]/", "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/", "https://[0:0:0:0:0:ffff:127.0.0.1]/", "https://[64:ff9b::127.0.0.1]/",
    "https://[2002:7f00:1::1]/", "https://[::127.0.0.1]/",
    # private
    "https://10.0.0.1/", "https://10.255.255.255/", "https://172.16.0.1/", "https://172.31.255.255/",
    "https://192.168.0.1/", "https://192.168.255.255/", "https://012.0.0.1/", "https://0xa.0.0.1/",
    "https://167772161/", "https://3232235521/", "https://0xc0a80001/", "https://intranet.example/",
    "https://[fc00::1]/", "https://[fd12:3456::1]/", "https://v6.example/", "https://mapped.example/",
    "https://[::ffff:10.0.0.1]/", "https://[2002:c0a8:101::1]/", "https://half.example/",
    # link-local, cloud metadata
    "https://169.254.169.254/latest/meta-data/", "https://169.254.0.1/", "https://0xa9fea9fe/",
    "https://2852039166/", "https://0251.0376.0251.0376/", "https://metadata.google.internal/",
    "https://[fe80::1]/", "https://[::ffff:169.254.169.254]/", "https://[64:ff9b::a9fe:a9fe]/",
    # unspecified, shared, multicast, reserved, documentation
    "https://0.0.0.0/", "https://0/", "https://0.1.2.3/", "https://[::]/", "https://100.64.0.1/",
    "https://100.127.255.254/", "https://224.0.0.1/", "https://239.255.255.250/", "https://[ff02::1]/",
    "https://240.0.0.1/", "https://255.255.255.255/", "https://192.0.0.1/", "https://198.18.0.1/",
    "https://192.0.2.1/", "https://198.51.100.1/", "https://203.0.113.1/",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo around 192.0.2.45
    # schemes, credentials, malformed
    "http://93.184.216.34/", "http://shop-crm.example/hook", "ftp://shop-crm.example/", "file:///etc/passwd",
    "gopher://127.0.0.1:25/", "javascript:alert(1)", "data:text/plain,hi", "https://user:pw@shop-crm.example/",
    "https://shop-crm.example@127.0.0.1/", "https://shop-crm.example:99999/", "https:///hooks", "",
    "https://" + "a" * 2000 + ".example/",
]  # fmt: skip


def test_over_sixty_hostile_urls():
    assert len(HOSTILE) >= 60
    assert len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_naming_the_url(url):
    with pytest.raises(InvalidInput) as refused:
        urls.check(url, resolver=resolver)
    assert list(refused.value.errors) == ["url"]


def test_a_public_https_url_is_accepted_and_pinned():
    target = urls.check("https://shop-crm.example/hooks?source=salesbot", resolver=resolver)
    assert (target.host, target.port, target.path, target.address) == (
        "shop-crm.example",
        443,
        "/hooks?source=salesbot",
        "93.184.216.34",
    )


def test_the_operator_can_allow_list_a_network_and_then_plain_http():
    allowed = urls.networks(["127.0.0.0/8", "10.0.0.0/8"])
    assert urls.check("http://127.0.0.1:8080/hook", allowed=allowed).address == "127.0.0.1"
    assert urls.check("https://intranet.example/", allowed=allowed, resolver=resolver).address == "10.0.0.5"
    with pytest.raises(InvalidInput):
        urls.check("http://192.168.0.1/", allowed=allowed)
    with pytest.raises(InvalidInput, match="SALESBOT_WEBHOOK_ALLOW_NETWORKS"):
        urls.networks(["10.0.0.0/33"])


def test_dns_rebinding_is_caught_at_connect_time():
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    guard = urls.Guard(resolver=lambda host, port: next(answers))
    guard.check("https://rebind.example/hook")  # fine when the endpoint is saved
    outcome = Sender(guard, timeout=1).post("https://rebind.example/hook", {}, "{}")
    assert outcome.status is None
    assert outcome.error.startswith("refused")
    assert "loopback" in outcome.error
