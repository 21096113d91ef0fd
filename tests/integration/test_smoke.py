import urllib.request


def test_server_health(server):
    with urllib.request.urlopen(server.url + "/healthcheck") as r:
        assert r.status == 200
        assert r.read() == b"{}"
