"""How the pipeline's Examples hold an image and its label: `ImageFormat`; no TensorFlow.

An Examples artifact of this project holds tf.Examples with one image feature and one int64 label
feature. The image is one of:

- `int64`: the H·W·C pixels (0-255), row-major, as an int64 list (what TfdsExampleGen writes);
- `raw`: the same pixels as uint8 bytes;
- `encoded`: a PNG or JPEG file's bytes, decoded to HxWxC.

The ExampleGen that writes the Examples records their format on the artifact (its `image_format`
property), and every step reads the images with it; the number of classes comes from the data's
labels, through the Schema (`components/examples.py`). `MNIST` is TfdsExampleGen's format for
MNIST and Fashion-MNIST, the default of every reader.
"""

from __future__ import annotations

import dataclasses
import json

ENCODINGS = ("int64", "raw", "encoded")
PIXEL_RANGE = (0, 255)  # 8-bit


@dataclasses.dataclass(frozen=True)
class ImageFormat:
    """The features that hold an image and its label, how the image is stored, and its shape
    (height, width, channels)."""

    image_key: str = "image"
    label_key: str = "label"
    encoding: str = "int64"
    shape: tuple[int, int, int] = (28, 28, 1)

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got "
                             f"{self.encoding!r}")
        if len(self.shape) != 3 or min(self.shape) < 1 or self.shape[2] not in (1, 3, 4):
            raise ValueError(f"shape must be (height, width, channels) with 1, 3 or 4 channels, "
                             f"got {self.shape!r}")
        if not self.image_key or not self.label_key or self.image_key == self.label_key:
            raise ValueError(f"image_key and label_key must be two feature names, got "
                             f"{self.image_key!r} and {self.label_key!r}")

    @property
    def pixels(self) -> int:
        """Values in one image: height x width x channels."""
        height, width, channels = self.shape
        return height * width * channels

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ImageFormat:
        values = json.loads(text)
        return cls(**{**values, "shape": tuple(values["shape"])})


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# JPEG markers that start a frame and carry its size (SOF0-SOF15 less DHT, JPG and DAC).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def encoded_size(payload: bytes) -> tuple[int, int] | None:
    """(height, width) a PNG or JPEG file's header states, without decoding its pixels; None
    for anything else (what a whole pass over the data counts in microseconds an image)."""
    if payload.startswith(PNG_MAGIC) and payload[12:16] == b"IHDR":
        return int.from_bytes(payload[20:24], "big"), int.from_bytes(payload[16:20], "big")
    if payload.startswith(JPEG_MAGIC):
        at = 2
        while at + 9 <= len(payload) and payload[at] == 0xFF:
            marker = payload[at + 1]
            if marker == 0xFF:  # fill byte before a marker
                at += 1
            elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                at += 2
            elif marker in _JPEG_FRAMES:
                return (int.from_bytes(payload[at + 5:at + 7], "big"),
                        int.from_bytes(payload[at + 7:at + 9], "big"))
            else:
                at += 2 + int.from_bytes(payload[at + 2:at + 4], "big")
    return None


MNIST = ImageFormat()
# MNIST's and Fashion-MNIST's: the defaults of a reader not given the data's own.
IMAGE_SHAPE = MNIST.shape
NUM_CLASSES = 10
