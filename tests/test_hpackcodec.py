"""kernel/server/hpackcodec.py: requests' header blocks decoded as RFC 7541 says (its Appendix C
examples, and whatever the hpack library's encoder sends across table sizes, Huffman coding and
never-indexed fields), its errors and the header-list limit; responses' blocks as decoders read
them."""

from __future__ import annotations

import random

import hpack
import pytest

from kernel.server.hpackcodec import DecodeError, RequestDecoder, ResponseEncoder

LIMIT = 1 << 20


def test_rfc7541_appendix_c4_requests_with_huffman_coding() -> None:
    decoder = RequestDecoder(LIMIT)
    first = bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff")
    second = bytes.fromhex("828684be5886a8eb10649cbf")
    third = bytes.fromhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")
    base = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
            (b":authority", b"www.example.com")]
    assert decoder.decode(first) == base
    assert decoder.decode(second) == [*base, (b"cache-control", b"no-cache")]
    assert decoder.decode(third) == [(b":method", b"GET"), (b":scheme", b"https"),
                                     (b":path", b"/index.html"), (b":authority", b"www.example.com"),
                                     (b"custom-key", b"custom-value")]


@pytest.mark.parametrize("seed", range(5))
def test_what_hpack_encodes_decodes_to_the_same_fields(seed: int) -> None:
    # Many blocks on one context: fields repeat (the dynamic table indexes them), values vary in
    # length (evictions; some larger than the table), some fields are never indexed, the
    # encoder's table size changes (size updates), Huffman coding on and off.
    rng = random.Random(seed)
    encoder, decoder = hpack.Encoder(), RequestDecoder(LIMIT)
    names = [b"accept", b"user-agent", b"x-trace", b"authorization", b"content-type", b"x-" + b"n" * 40]
    for block_number in range(300):
        if rng.random() < 0.05:
            encoder.header_table_size = rng.choice([0, 256, 1024, 4096])
        fields = [(b":method", rng.choice([b"GET", b"POST", b"PATCH"])), (b":path", b"/p/%d" % rng.randrange(20))]
        for _ in range(rng.randrange(1, 8)):
            value = bytes(rng.choice(b"abcXYZ09 -/;=") for _ in range(rng.choice([1, 10, 100, 3000])))
            field = (rng.choice(names), value.strip() or b"v")
            fields.append(hpack.NeverIndexedHeaderTuple(*field) if rng.random() < 0.1 else field)
        block = encoder.encode(fields, huffman=rng.random() < 0.7)
        assert decoder.decode(block) == [(bytes(n), bytes(v)) for n, v in fields], block_number


def test_a_list_over_the_limit_is_reported_and_the_table_still_follows() -> None:
    encoder, decoder = hpack.Encoder(), RequestDecoder(200)
    assert decoder.decode(encoder.encode([(b"x-a", b"a" * 100), (b"x-b", b"b" * 100)])) is None
    # The next block refers to both fields by their dynamic table indexes.
    assert decoder.decode(encoder.encode([(b"x-a", b"a" * 100)])) == [(b"x-a", b"a" * 100)]
    assert decoder.decode(encoder.encode([(b"x-b", b"b" * 100)])) == [(b"x-b", b"b" * 100)]


@pytest.mark.parametrize("block", [
    b"\x80",  # index 0
    b"\xbe",  # index 62: the dynamic table is empty
    b"\x40\x05ab",  # a literal name longer than the block
    b"\x41",  # an indexed name without its value
    b"\x82\x20",  # a table size update after a field
    b"\x3f\xe2\x1f",  # a table size of 4097, over the advertised 4096
    b"\x40\x81\xff",  # a Huffman string that is all padding (EOS)
    b"\xff\xff\xff\xff\xff\xff\x01",  # an integer past 2**31
], ids=["index-0", "empty-dynamic-table", "truncated-name", "missing-value",
        "late-size-update", "size-over-setting", "huffman-eos", "huge-integer"])
def test_undecodable_blocks_are_errors(block: bytes) -> None:
    with pytest.raises(DecodeError):
        RequestDecoder(LIMIT).decode(block)


def test_responses_decode_with_any_table_size() -> None:
    # The first block sets the client's table to 0; nothing is ever indexed, so a decoder whose
    # table was set smaller (or to 0) reads every block.
    encoder = ResponseEncoder()
    fields = [(b":status", b"200"), (b"content-type", b"application/json"), (b"x-long", b"v" * 300),
              (b"audit-id", b"0f4b"), (b"date", b"Mon, 07 Dec 2026 14:00:00 GMT")]
    for table_size in (4096, 0):
        decoder = hpack.Decoder()
        decoder.header_table_size = table_size
        encoder = ResponseEncoder()
        for _ in range(3):
            assert decoder.decode(encoder.encode(fields), raw=True) == fields
            assert len(decoder.header_table.dynamic_entries) == 0


def test_the_huffman_cache_stays_within_its_bound() -> None:
    from kernel.server import hpackcodec

    encoder, decoder = hpack.Encoder(), RequestDecoder(LIMIT)
    for i in range(3000):  # about 2.4 MB of distinct strings
        field = (b"x-n", b"%d-" % i + b"q" * 500)
        assert decoder.decode(encoder.encode([field], huffman=True)) == [field]
    held = sum(len(raw) + len(decoded) for raw, decoded in hpackcodec._HUFFMAN.items())
    assert 0 < held <= hpackcodec._HUFFMAN_BYTES


def test_a_list_past_twice_the_limit_is_not_decoded_further() -> None:
    from kernel.server.hpackcodec import ListTooLarge

    decoder = RequestDecoder(1000)
    assert decoder.decode(b"\x82" * 30) is None  # 1260 bytes: over, still decoded
    with pytest.raises(ListTooLarge):
        decoder.decode(b"\x82" * 1_000_000)  # ":method: GET" a million times
