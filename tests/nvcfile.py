"""A builder of CRC-valid .nvc files that say whatever a test wants: valid framing (magic, version,
sections, CRC32s) around lying content, to reach the parser behind the CRC check.

Every format version: 2 (RGB), 3 (a header with "colorspace": "yuv420") and 4 (an INDX section of
chunk sizes between HEAD and TENS: NIRVANA's groups). ``nvc`` picks the version the encoder would
write unless it is given one; ``framed`` writes any sections in any order. Headers of real models
come from the models' own ``configure`` (``header_for``), so they carry whatever keys the encoder
writes; ``const_chunks`` gives each chunk of a model's tensors as CONST records, a file that decodes."""
from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Optional, Sequence

from nvcodec.bitstream.container import MAGIC, VERSION, VERSION_INDEXED, VERSION_YUV420, svarint, uvarint
from nvcodec.bitstream.entropy import CATEGORICAL, CONST, LAPLACE, RAW, scale_count


def section(tag: bytes, payload: bytes) -> bytes:
    framed = tag + struct.pack("<I", len(payload)) + payload
    return framed + struct.pack("<I", zlib.crc32(framed))


def head_bytes(header: dict[str, Any] | bytes) -> bytes:
    return header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()


def version_for(header: dict[str, Any] | bytes, indexed: bool) -> int:
    """The version the encoder writes: 4 with an index, else 3 for a yuv420 header, else 2."""
    if indexed:
        return VERSION_INDEXED
    yuv = header.get("colorspace") == "yuv420" if isinstance(header, dict) else b'"colorspace":"yuv420"' in header
    return VERSION_YUV420 if yuv else VERSION


def nvc(header: dict[str, Any] | bytes, tens: bytes, version: Optional[int] = None,
        index: Optional[Sequence[int] | bytes] = None) -> bytes:
    """A whole file; ``header`` is a dict (dumped as JSON) or the HEAD payload itself. ``index``:
    the chunk sizes (or the INDX payload itself) of a version 4 file. ``version``: the byte
    written (default: the one the encoder would write for this header and index)."""
    version = version_for(header, index is not None) if version is None else version
    sections = [(b"HEAD", head_bytes(header))]
    if index is not None:
        sections.append((b"INDX", index if isinstance(index, bytes) else index_payload(index)))
    return framed(version, sections + [(b"TENS", tens)])


def framed(version: int, sections: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Magic, a version byte, then these (tag, payload) sections in this order, each CRC-valid."""
    return MAGIC + bytes([version]) + b"".join(section(tag, payload) for tag, payload in sections)


def index_payload(sizes: Sequence[int], count: Optional[int] = None) -> bytes:
    """INDX: the chunk count (default: how many sizes), then each size, as varints."""
    return uvarint(len(sizes) if count is None else count) + b"".join(uvarint(s) for s in sizes)


def chunked(header: dict[str, Any], chunks: Sequence[bytes], version: Optional[int] = None) -> bytes:
    """A version 4 file whose TENS is these chunks, indexed by their sizes."""
    return nvc(header, b"".join(chunks), version, [len(c) for c in chunks])


def record(coded: bytes, scales: int = 1, bits: int = 8) -> bytes:
    """One tensor: bits, ``scales`` float16 steps of 0.01, then its coded integers."""
    return bytes([bits]) + struct.pack(f"<{scales}e", *([0.01] * scales)) + coded


def const(value: int) -> bytes:
    return bytes([CONST]) + svarint(value)


def raw(lo: int, nbits: int, packed: bytes) -> bytes:
    return bytes([RAW]) + svarint(lo) + bytes([nbits]) + packed


def categorical(lo: int, counts: Sequence[int], words: Sequence[int]) -> bytes:
    return (bytes([CATEGORICAL]) + svarint(lo) + uvarint(len(counts)) + b"".join(uvarint(c) for c in counts)
            + ans(words))


def laplace(lo: int, span: int, center: int, code: int, words: Sequence[int]) -> bytes:
    return bytes([LAPLACE]) + svarint(lo) + uvarint(span) + svarint(center) + bytes([code]) + ans(words)


def ans(words: Sequence[int]) -> bytes:
    return uvarint(len(words)) + struct.pack(f"<{len(words)}I", *words)


# ---------------------------------------------------------------------------- real models' files
def header_for(model: str, width: int, height: int, frames: int, params: Optional[int] = None,
               colorspace: str = "rgb", **options: Any) -> dict[str, Any]:
    """A header as the encoder writes it, the config from the model's own configure()."""
    from nvcodec.models import model_class
    config = model_class(model).configure(width, height, frames, params, **options)
    return {"model": model, "config": config, "width": width, "height": height, "frames": frames,
            "fps": [25, 1], "matrix": "bt601", "range": "tv", **({"colorspace": colorspace} if colorspace != "rgb" else {})}


def model_chunks(header: dict[str, Any]) -> list[list[tuple[int, ...]]]:
    """The shapes of each chunk's tensors (one chunk but for NIRVANA), built on the meta device."""
    import torch
    from nvcodec.models import model_class
    with torch.device("meta"):
        model = model_class(header["model"])(header["config"], decoder_only=True)
    shapes = {k: tuple(t.shape) for k, t in model.stored_tensors().items()}
    return [[shapes[name] for name in chunk] for chunk in model.chunks()]


def const_chunks(header: dict[str, Any], value: int = 0) -> list[bytes]:
    """Each chunk of the model's tensors, every tensor a CONST ``value`` (a file that decodes)."""
    return [b"".join(record(const(value), scale_count(s)) for s in chunk) for chunk in model_chunks(header)]


def const_file(header: dict[str, Any], value: int = 0) -> bytes:
    """A decodable file of CONST tensors, in the version the encoder writes (indexed for several chunks)."""
    chunks = const_chunks(header, value)
    return chunked(header, chunks) if len(chunks) > 1 else nvc(header, chunks[0])


__all__ = ["ans", "categorical", "chunked", "const", "const_chunks", "const_file", "framed", "header_for",
           "index_payload", "laplace", "model_chunks", "nvc", "raw", "record", "section"]
