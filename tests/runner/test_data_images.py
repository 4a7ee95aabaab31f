"""decode_images() and normalize(): every image becomes 3 x H x W uint8; broken files are named."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision.transforms.v2 import functional as F

import runner.data.images as images_module
from runner.data import PACS_MEAN, PACS_STD, DataError, decode_images, normalize
from runner.data.images import normalize_float


def save(image: Image.Image, path):
    image.save(path)
    return path


def rgb_of(path) -> torch.Tensor:
    """PIL's own RGB conversion as the independent expectation: (3, H, W) uint8."""
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)


def test_every_mode_becomes_rgb(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    colour = Image.fromarray(pixels)
    paths = [
        save(colour.convert("L"), tmp_path / "gray.png"),
        save(colour.convert("RGBA"), tmp_path / "rgba.png"),
        save(colour.convert("P"), tmp_path / "palette.png"),
        save(colour.convert("LA"), tmp_path / "gray_alpha.png"),
        save(colour, tmp_path / "rgb.png"),
    ]
    decoded = decode_images(paths, (6, 5), progress=False)
    assert decoded.images.shape == (5, 3, 6, 5)
    assert decoded.images.dtype == torch.uint8
    assert decoded.resized == 0 and decoded.bad == [] and decoded.kept == (0, 1, 2, 3, 4)
    for image, path in zip(decoded.images, paths, strict=True):
        assert torch.equal(image, rgb_of(path)), path.name
    gray = decoded.images[0]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


def test_sixteen_bit_png_becomes_uint8(tmp_path):
    path = save(Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)), tmp_path / "deep.png")
    decoded = decode_images([path], (4, 4), progress=False)
    assert decoded.images.dtype == torch.uint8
    assert decoded.images.unique().tolist() == [255]


def test_other_sizes_are_resized_and_counted(tmp_path, write_png):
    sizes = [(16, 12), (16, 12), (30, 7), (8, 8), (100, 100)]  # (width, height)
    paths = [
        write_png(tmp_path / f"{i}.png", size=size, colour=(10 * i, 50, 200))
        for i, size in enumerate(sizes)
    ]
    decoded = decode_images(paths, (12, 16), workers=1, progress=False)
    assert decoded.images.shape == (5, 3, 12, 16)
    assert decoded.resized == 3
    for i, image in enumerate(decoded.images):  # a solid colour stays that colour when resized
        assert image[:, 0, 0].tolist() == [10 * i, 50, 200]
        assert (image == image[:, :1, :1]).all()


def test_workers_do_not_change_the_result(tmp_path):
    rng = np.random.default_rng(1)
    pictures = [
        Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)) for _ in range(12)
    ]
    paths = [save(picture, tmp_path / f"{i}.png") for i, picture in enumerate(pictures)]
    one = decode_images(paths, (8, 8), workers=1, progress=False)
    three = decode_images(paths, (8, 8), workers=3, progress=False)
    assert torch.equal(one.images, three.images)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("a.jpg", {"quality": 100}),
        ("a.webp", {"lossless": True}),
        ("a.gif", {}),
        ("a.bmp", {}),
        ("a.tiff", {}),
        ("a.tif", {"compression": "tiff_lzw"}),
    ],
)
def test_every_format_users_have_is_decoded(tmp_path, name, options):
    pixels = np.random.default_rng(3).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels)
    if name.endswith(".gif"):  # GIF holds a palette: compare with the palette's colours
        picture = picture.quantize(16).convert("RGB")
    path = tmp_path / name
    picture.save(path, **options)
    decoded = decode_images([path], (6, 5), progress=False).images[0]
    expected = rgb_of(path)
    # JPEG is lossy even at quality 100, and decoders round differently.
    tolerance = 12 if name.endswith(".jpg") else 0
    assert (decoded.int() - expected.int()).abs().max() <= tolerance


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.tiff"])
def test_pictures_are_turned_upright_by_their_exif_orientation(tmp_path, name):
    # 6 = "rotate 90 clockwise to view": a phone held upright stores its picture sideways.
    stored = np.zeros((4, 8, 3), dtype=np.uint8)  # 4 high, 8 wide as stored
    stored[:, :4] = 255  # the left half white
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / name
    Image.fromarray(stored).save(path, exif=exif)
    viewed = np.array(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))  # 8 high, 4 wide
    decoded = decode_images([path], (8, 4), progress=False).images[0]
    assert decoded.shape == (3, 8, 4)  # not resized from a sideways 4 x 8
    assert (decoded.permute(1, 2, 0).int() - torch.from_numpy(viewed).int()).abs().max() <= 12


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "TIFF", "WEBP"])
def test_a_truncated_image_is_named_with_its_path(tmp_path, write_png, fmt):
    whole = io.BytesIO()
    pixels = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(whole, fmt)
    good = write_png(tmp_path / "good.png")
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    with pytest.raises(DataError) as error:
        decode_images([good, cut], (32, 32), progress=False)
    message = str(error.value)
    assert message.startswith("1 image cannot be decoded") and str(cut) in message
    assert str(good) not in message


@pytest.fixture
def broken(tmp_path, write_png):
    """Five images with colours 0..4 of which 1 (garbage bytes) and 3 (cut-off PNG) are bad."""
    paths = [write_png(tmp_path / f"{i}.png", colour=(i, i, i)) for i in range(5)]
    paths[1].write_bytes(b"this is not an image at all")
    whole = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        whole, "PNG"
    )
    paths[3].write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    return paths


def test_broken_files_are_all_named(broken):
    with pytest.raises(DataError) as error:
        decode_images(broken, (8, 8), progress=False)
    message = str(error.value)
    assert message.startswith("2 images cannot be decoded")
    assert str(broken[1]) in message and str(broken[3]) in message
    assert str(broken[0]) not in message
    assert "--skip-bad-images" in message
    assert ".cpp" not in message  # torchvision's source locations are noise to a user


def test_skip_bad_returns_them_and_keeps_the_rest_in_order(broken):
    decoded = decode_images(broken, (8, 8), progress=False, skip_bad=True)
    assert decoded.bad == [broken[1], broken[3]]
    assert decoded.kept == (0, 2, 4)
    assert decoded.images.shape == (3, 3, 8, 8)
    assert [int(image[0, 0, 0]) for image in decoded.images] == [0, 2, 4]


def test_many_broken_files_are_cut_at_ten(tmp_path):
    paths = [tmp_path / f"{i:02d}.png" for i in range(13)]
    for path in paths:
        path.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError) as error:
        decode_images(paths, (8, 8), progress=False)
    message = str(error.value)
    assert "and 3 more" in message
    assert str(paths[9]) in message and str(paths[10]) not in message


def test_progress_bar(tmp_path, write_png, capsys):
    decode_images([write_png(tmp_path / "a.png")], (8, 8), progress=True)
    assert "decoding" in capsys.readouterr().err


def test_normalize_known_values():
    batch = torch.tensor([0, 255, 128], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    out = normalize(batch)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 4)
    expected = [
        (v / 255 - m) / s for v, m, s in zip((0, 255, 128), PACS_MEAN, PACS_STD, strict=True)
    ]
    assert out[1, :, 2, 3].tolist() == pytest.approx(expected, abs=1e-6)


def test_normalize_with_the_batch_statistics_gives_zero_mean_unit_std():
    seeded = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=seeded)
    scaled = batch.double() / 255
    mean = scaled.mean(dim=(0, 2, 3)).tolist()
    std = scaled.std(dim=(0, 2, 3), correction=0).tolist()
    out = normalize(batch, mean, std)
    assert out.mean(dim=(0, 2, 3)).tolist() == pytest.approx([0, 0, 0], abs=1e-5)
    assert out.std(dim=(0, 2, 3), correction=0).tolist() == pytest.approx([1, 1, 1], abs=1e-5)


def test_normalize_refuses_floats():
    with pytest.raises(TypeError, match="uint8"):
        normalize(torch.zeros(1, 3, 2, 2))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_normalize_is_torchvisions_and_keeps_the_memory_format(layout):
    seeded = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (4, 3, 5, 7), dtype=torch.uint8, generator=seeded)
    batch = batch.contiguous(memory_format=layout)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.05]
    expected = F.normalize(F.to_dtype(batch, torch.float32, scale=True), mean, std)
    out = normalize(batch, mean, std)
    assert out.is_contiguous(memory_format=layout)
    torch.testing.assert_close(out, expected, rtol=0, atol=2e-6)
    # The float path (after augmentation, pixels already in [0, 1]) agrees as well.
    unit = batch.float() / 255
    torch.testing.assert_close(normalize_float(unit, mean, std), expected, rtol=0, atol=2e-6)


def test_normalize_refuses_a_zero_std():
    with pytest.raises(ValueError, match="std must not be zero"):
        normalize(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), PACS_MEAN, (0.3, 0.0, 0.3))


def jpeg(path, pixels: np.ndarray, **options):
    Image.fromarray(pixels).save(path, "JPEG", quality=90, **options)
    return path


@pytest.fixture
def mixed(tmp_path):
    """JPEGs (one grayscale, one to be resized, one progressive) among PNGs, 8x8 unless said."""
    rng = np.random.default_rng(3)

    def pixels(h=8, w=8):
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    return [
        jpeg(tmp_path / "a.jpg", pixels()),
        save(Image.fromarray(pixels()), tmp_path / "b.png"),
        jpeg(tmp_path / "c.jpg", pixels()[:, :, 0]),  # grayscale JPEG
        jpeg(tmp_path / "d.jpg", pixels(16, 12)),  # resized to 8x8
        jpeg(tmp_path / "e.jpeg", pixels(), progressive=True),
        jpeg(tmp_path / "f.jpg", pixels()),
    ]


@pytest.mark.parametrize("channels", [3, 1])
def test_jpeg_batches_give_the_per_file_result(mixed, monkeypatch, channels):
    """The batched path (nvjpeg on CUDA) run on the CPU, 2 files per batch: same pixels, same
    count of resized images, as decoding file by file."""
    monkeypatch.setattr(images_module, "JPEG_BATCH", 2)
    one_by_one = decode_images(mixed, (8, 8), progress=False, channels=channels)
    batched = decode_images(mixed, (8, 8), progress=False, channels=channels, jpeg_device="cpu")
    assert batched.images.shape == (6, channels, 8, 8)
    assert torch.equal(batched.images, one_by_one.images)
    assert batched.resized == one_by_one.resized == 1


def test_a_broken_jpeg_fails_only_itself_in_its_batch(mixed, monkeypatch):
    monkeypatch.setattr(images_module, "JPEG_BATCH", 4)
    mixed[4].write_bytes(mixed[4].read_bytes()[:200])  # a cut-off JPEG among three good ones
    mixed[5].write_bytes(b"\xff\xd8\xff not really a JPEG")
    expected = decode_images(mixed, (8, 8), progress=False, skip_bad=True)
    batched = decode_images(mixed, (8, 8), progress=False, skip_bad=True, jpeg_device="cpu")
    assert batched.bad == [mixed[4], mixed[5]] == expected.bad
    assert batched.kept == (0, 1, 2, 3)
    assert torch.equal(batched.images, expected.images)
    with pytest.raises(DataError, match="2 images cannot be decoded"):
        decode_images(mixed, (8, 8), progress=False, jpeg_device="cpu")


def test_cuda_jpeg_decoding_matches_the_cpu_or_falls_back_to_it(mixed):
    """Without a GPU this is the CPU path (bit-exact); with one, nvjpeg within JPEG's noise."""
    cpu = decode_images(mixed, (8, 8), progress=False)
    cuda = decode_images(mixed, (8, 8), progress=False, jpeg_device="cuda")
    assert cuda.images.device.type == "cpu" and cuda.kept == cpu.kept
    difference = (cuda.images.int() - cpu.images.int()).abs()
    if torch.cuda.is_available():
        assert difference.float().mean() < 2 and difference.max() <= 16
    else:
        assert difference.max() == 0


def test_default_workers_is_every_core_and_channels_are_checked(mixed):
    assert images_module.available_cores() >= 1
    assert decode_images(mixed, (8, 8), progress=False, workers=None).images.shape[0] == 6
    with pytest.raises(ValueError, match="channels"):
        decode_images(mixed, (8, 8), progress=False, channels=4)


def test_out_receives_the_rows(mixed):
    out = torch.zeros((6, 3, 8, 8), dtype=torch.uint8)
    decoded = decode_images(mixed, (8, 8), progress=False, out=out)
    assert decoded.images.data_ptr() == out.data_ptr()
    assert torch.equal(out, decode_images(mixed, (8, 8), progress=False).images)
    with pytest.raises(ValueError, match="shape"):
        decode_images(
            mixed, (8, 8), progress=False, out=torch.zeros((5, 3, 8, 8), dtype=torch.uint8)
        )


def test_a_set_larger_than_memory_is_a_data_error(tmp_path):
    paths = [tmp_path / "never-read.png"] * 100_000  # 100,000 x 3 x 20,000 x 20,000: 120 TB
    with pytest.raises(DataError, match=r"120000\.0 GB, more than this machine's memory"):
        decode_images(paths, (20_000, 20_000), progress=False)
