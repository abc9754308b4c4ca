def test_smoke(site, client, ticket):
    h = client.create_handler(ticket)
    a = client.send_chunk(ticket, h, b"hello", False, 0)
    assert a.accepted, a
    a = client.send_chunk(ticket, h, b" world", True, 5)
    assert a.accepted, a
    assert client.finalize(ticket, h, "/a/b.txt").ok
    assert client.download(ticket, "/a/b.txt") == b"hello world"
    site.assert_consistent()
