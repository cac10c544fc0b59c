"""ADE20K and Cityscapes converters on tiny archives built in the real layouts; the Cityscapes
download through cityscapesscripts against a local server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
import requests
from PIL import Image

from oeseg.data.ade20k import ade20k_segments, convert_ade20k, instance_class_categories, panoptic_palette_id
from oeseg.data.cityscapes import cityscapes_session, convert_cityscapes, download_cityscapes_package
from oeseg.data.panoptic import SEMANTIC_VOID, PanopticSplit, bbox_of, read_semantic_ids
from oeseg.data.vocabularies import ADE20K, CITYSCAPES
from oeseg.io import InputError


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _jpg(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _check_split(root: Path) -> PanopticSplit:
    """Every PNG id is in the JSON and vice versa; areas and boxes match the PNGs."""
    split = PanopticSplit.load(root)
    for im in split.images:
        ids = split.segment_ids(im)
        assert set(np.unique(ids).tolist()) - {0} == {s.id for s in im.segments}
        for s in im.segments:
            assert s.area == int((ids == s.id).sum()) and s.bbox == bbox_of(ids == s.id)
        assert (split.image_dir / im.file_name).exists()
    return split


# --- ADE20K --------------------------------------------------------------------------------

H, W = 12, 16
WALL, FLOOR, BED, PERSON = (ADE20K.by_name(n).id for n in ("wall", "floor", "bed", "person"))


def _ade_archives(tmp_path: Path) -> tuple[Path, Path]:
    semantic = np.zeros((H, W), np.uint8)  # 0 = other (void)
    semantic[:6] = WALL + 1
    semantic[6:] = FLOOR + 1
    semantic[7:11, 1:7] = BED + 1
    semantic[2:10, 9:11] = PERSON + 1
    semantic[2:10, 12:14] = PERSON + 1
    semantic[0, 15] = 0
    semantic[11, 10:12] = PERSON + 1  # thing pixels without an instance: void
    instance = np.zeros((H, W, 3), np.uint8)
    things = instance_class_categories()
    instance[2:10, 9:11] = (things.index(PERSON) + 1, 1, 0)
    instance[2:10, 12:14] = (things.index(PERSON) + 1, 2, 0)
    instance[7:11, 1:8] = (things.index(BED) + 1, 3, 0)  # overlaps a floor column: the thing wins
    scene_zip = tmp_path / "ADEChallengeData2016.zip"
    with zipfile.ZipFile(scene_zip, "w") as z:
        z.writestr("ADEChallengeData2016/objectInfo150.txt", "Idx\tRatio\tTrain\tVal\tName\n")
        for folder, name in (("validation", "ADE_val_00000001"), ("training", "ADE_train_00000001")):
            z.writestr(f"ADEChallengeData2016/images/{folder}/{name}.jpg", _jpg(H, W))
            z.writestr(f"ADEChallengeData2016/annotations/{folder}/{name}.png", _png(semantic))
    inst_tar = tmp_path / "annotations_instance.tar"
    with tarfile.open(inst_tar, "w") as tar:
        for folder, name in (("validation", "ADE_val_00000001"), ("training", "ADE_train_00000001")):
            data = _png(instance)
            info = tarfile.TarInfo(f"annotations_instance/{folder}/{name}.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return scene_zip, inst_tar


def test_ade20k_instance_classes_are_the_things_in_id_order():
    things = instance_class_categories()
    assert len(things) == 100 and things == sorted(things)
    assert things[0] == ADE20K.by_name("bed").id and things[-1] == ADE20K.by_name("flag").id


def test_ade20k_instance_classes_are_those_of_the_published_mapping_file(shared_data):
    """Mask2Former's ade20k_instance_catid_mapping.txt (Instance100 -> SceneParse150, both from 1;
    a class listed twice maps alike) gives each instance class the category instance_class_categories does."""
    rows = [line.split() for line in (shared_data / "paper" / "ade20k_instance_catid_mapping.txt").read_text()
            .splitlines()[1:] if line.strip()]
    mapping: dict[int, set[int]] = {}
    for instance_class, scene_parsing, _ in rows:
        mapping.setdefault(int(instance_class) - 1, set()).add(int(scene_parsing) - 1)
    assert sorted(mapping) == list(range(100)) and all(len(v) == 1 for v in mapping.values())
    assert [mapping[k].pop() for k in range(100)] == instance_class_categories()


def test_ade20k_conversion(tmp_path):
    scene_zip, inst_tar = _ade_archives(tmp_path)
    assert convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "val") == 1
    split = _check_split(tmp_path / "val")
    assert split.vocabulary.name == "ade20k" and len(split.vocabulary) == 150
    (im,) = split.images
    assert (im.id, im.file_name, im.width, im.height) == ("ADE_val_00000001", "ADE_val_00000001.jpg", W, H)
    segs = [(s.id, s.category_id, s.area, s.iscrowd) for s in im.segments]
    # the bottom 6 rows minus semantic bed (24) and people (16), void people (2), the bed's extra column (4)
    floor_area = 6 * W - 24 - 16 - 2 - 4
    # numbered in the order of Mask2Former's panoptic ids (palette colours): floor, person, wall, bed
    assert segs == [(1, FLOOR, floor_area, 0), (2, PERSON, 16, 0), (3, PERSON, 16, 0),
                    (4, WALL, 6 * W - 2 * 4 * 2 - 1, 0), (5, BED, 28, 0)]
    ids = split.segment_ids(im)
    assert ids[0, 15] == 0 and (ids[11, 10:12] == 0).all() and ids[8, 7] == 5
    # the semantic map is kept as it is, class - 1 with "other" void: the ground truth of ADE20K's mIoU,
    # which labels the person pixels without an instance and keeps the floor under the bed's extra column
    semantic = read_semantic_ids(split.semantic_dir / im.panoptic_file)
    assert semantic[0, 15] == SEMANTIC_VOID and (semantic[11, 10:12] == PERSON).all()
    assert semantic[8, 7] == FLOOR and semantic[0, 0] == WALL and semantic[8, 2] == BED


def _ade_categories_in_order(semantic: np.ndarray, instance: np.ndarray) -> list[int]:
    """The category ids of ade20k_segments' segments in ascending segment id."""
    ids, categories = ade20k_segments(semantic, instance, "semantic.png", "instance.png")
    assert sorted(categories) == list(range(1, len(categories) + 1)) == np.unique(ids[ids > 0]).tolist()
    return [categories[sid] for sid in sorted(categories)]


def test_ade20k_segments_follow_the_papers_segment_order():
    """ADE_val_00000001's stuff in the order of the paper's published descriptions (tree, bush,
    grass, wall, house, road, sky: ascending Mask2Former panoptic ids), not in category id order."""
    names = ["tree", "plant", "grass", "wall", "building", "road", "sky"]
    semantic = np.zeros((4, 8), np.uint8)
    for n, name in enumerate(sorted(names, key=lambda name: ADE20K.by_name(name).id)):
        semantic.flat[n * 4:(n + 1) * 4] = ADE20K.by_name(name).id + 1
    instance = np.zeros((4, 8, 3), np.uint8)
    assert _ade_categories_in_order(semantic, instance) == [ADE20K.by_name(name).id for name in names]


def test_ade20k_segment_order_uses_the_preparation_palette_and_instance_numbers():
    """Skyscraper has its own colour in prepare_ade20k_pan_seg.py (after road, not tied with it);
    the instances of one class sit at the class's colour, by instance number."""
    road, skyscraper, person, car = (ADE20K.by_name(n).id for n in ("road", "skyscraper", "person", "car"))
    semantic = np.zeros((2, 6), np.uint8)
    semantic[0, :3] = skyscraper + 1
    semantic[0, 3:] = road + 1
    instance = np.zeros((2, 6, 3), np.uint8)
    things = instance_class_categories()
    instance[1, 0] = (things.index(car) + 1, 3, 0)
    instance[1, 1] = (things.index(person) + 1, 2, 0)
    instance[1, 2] = (things.index(person) + 1, 1, 0)
    ids, categories = ade20k_segments(semantic, instance, "semantic.png", "instance.png")
    assert [categories[s] for s in sorted(categories)] == [person, person, road, car, skyscraper]
    assert ids[1, 2] == 1 and ids[1, 1] == 2  # person instance 1, then instance 2
    assert panoptic_palette_id(road) < panoptic_palette_id(skyscraper)


def test_ade20k_stuff_all_under_instances_leaves_no_gap():
    """A stuff segment that the instances cover whole disappears; the others stay numbered 1..n."""
    semantic = np.full((2, 2), ADE20K.by_name("wall").id + 1, np.uint8)
    semantic[0, 0] = ADE20K.by_name("floor").id + 1
    instance = np.zeros((2, 2, 3), np.uint8)
    instance[0, 0] = (instance_class_categories().index(ADE20K.by_name("bed").id) + 1, 1, 0)
    assert _ade_categories_in_order(semantic, instance) == [ADE20K.by_name("wall").id, ADE20K.by_name("bed").id]


def test_ade20k_missing_instance_png_names_the_archive(tmp_path):
    scene_zip, _ = _ade_archives(tmp_path)
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(InputError, match=r"ADEChallengeData2016.zip:ADEChallengeData2016/images/validation/"
                                         r"ADE_val_00000001.jpg: no instance PNG ADE_val_00000001 in .*empty.tar"):
        convert_ade20k(scene_zip, empty, "val", tmp_path / "out")


def _rewrite_member(archive: Path, name: str, data: bytes) -> None:
    """The zip with one member's bytes replaced."""
    with zipfile.ZipFile(archive) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[name] = data
    with zipfile.ZipFile(archive, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)


@pytest.mark.parametrize("data, message", [
    (b"not a png", r"ADEChallengeData2016.zip:{member}: not a readable image"),
    (_png(np.full((H, W), 151, np.uint8)), r"ADEChallengeData2016.zip:{member}: semantic class 151 outside 1..150"),
])
def test_ade20k_bad_semantic_png_names_its_member(tmp_path, data, message):
    scene_zip, inst_tar = _ade_archives(tmp_path)
    member = "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png"
    _rewrite_member(scene_zip, member, data)
    with pytest.raises(InputError, match=message.format(member=member)):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")


def _damage_zip_member(archive: Path, name: str) -> None:
    """Flip one byte of a member's stored data, so that its CRC-32 fails when it is read."""
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
    raw = bytearray(archive.read_bytes())
    header_end = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[header_end + 40] ^= 0xFF
    archive.write_bytes(bytes(raw))


def test_a_truncated_download_names_both_files_to_delete(tmp_path):
    """A download cut short (unpinned, nothing caught it) is named with both files to delete: the one
    the converter reads and the fetched file it is a hard link of, which would be linked again alone."""
    scene_zip, inst_tar = _ade_archives(tmp_path)
    fetched, dest = tmp_path / "downloads" / ".fetched" / "ade20k" / "a.zip", tmp_path / "downloads" / "ade20k" / "a.zip"
    for path in (fetched, dest):
        path.parent.mkdir(parents=True)
    fetched.write_bytes(scene_zip.read_bytes()[:-100])
    os.link(fetched, dest)
    with pytest.raises(InputError) as err:
        convert_ade20k(dest, inst_tar, "val", tmp_path / "out")
    assert str(err.value) == (f"{dest}: a damaged or truncated zip archive (its table of members, at the end, is "
                              f"missing or unreadable: cut short?); delete {dest} and {fetched} to download it again")


def test_ade20k_damaged_archives_name_the_archive(tmp_path):
    """A member whose CRC fails, a tar or zip cut short, a path that is not there or not an archive:
    errors naming the archive (and member) and saying which."""
    scene_zip, inst_tar = _ade_archives(tmp_path)
    member = "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png"
    _damage_zip_member(scene_zip, member)
    with pytest.raises(InputError, match=rf"ADEChallengeData2016.zip:{member}: cannot be read, the archive is "
                                         r"damaged or truncated \(Bad CRC-32"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")
    scene_zip, inst_tar = _ade_archives(tmp_path)
    inst_tar.write_bytes(inst_tar.read_bytes()[:700])  # the first header and part of its PNG
    with pytest.raises(InputError, match=r"annotations_instance.tar: a damaged or truncated tar archive"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")
    scene_zip, inst_tar = _ade_archives(tmp_path)
    scene_zip.write_bytes(scene_zip.read_bytes()[:-100])  # a download cut short: no table of members
    with pytest.raises(InputError, match=r"ADEChallengeData2016.zip: a damaged or truncated zip archive .*cut short"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")
    with pytest.raises(InputError, match=r"nowhere.zip: no such archive or folder"):
        convert_ade20k(tmp_path / "nowhere.zip", inst_tar, "val", tmp_path / "out")
    scene_zip.write_bytes(b"<html>a login page</html>")
    with pytest.raises(InputError, match=r"ADEChallengeData2016.zip: not a zip or tar archive nor a folder"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")


def test_ade20k_reads_extracted_folders(tmp_path):
    scene_zip, inst_tar = _ade_archives(tmp_path)
    zipfile.ZipFile(scene_zip).extractall(tmp_path / "x")
    with tarfile.open(inst_tar) as tar:
        tar.extractall(tmp_path / "x" / "ADEChallengeData2016", filter="data")
    root = tmp_path / "x" / "ADEChallengeData2016"
    assert convert_ade20k(root, root, "train", tmp_path / "train") == 1
    assert _check_split(tmp_path / "train").images[0].id == "ADE_train_00000001"


# --- Cityscapes ----------------------------------------------------------------------------

def _cityscapes_archives(tmp_path: Path) -> tuple[Path, Path]:
    ids = np.zeros((H, W), np.uint16)  # 0 unlabeled: void
    ids[:4] = 23  # sky
    ids[4:8] = 11  # building
    ids[8:] = 7  # road
    ids[8:, :3] = 8  # sidewalk
    ids[9:11, 4:7] = 26000  # car instance 0
    ids[9:11, 8:10] = 26001  # car instance 1
    ids[9:11, 11:13] = 26  # cars without instance ids (a group): crowd
    ids[5:8, 14] = 24000  # a person
    ids[11, 15] = 1  # ego vehicle: void
    ids[4, 0:2] = 29000  # caravan (not a train class): void
    gt_zip = tmp_path / "gtFine_trainvaltest.zip"
    img_zip = tmp_path / "leftImg8bit_trainvaltest.zip"
    with zipfile.ZipFile(gt_zip, "w") as z, zipfile.ZipFile(img_zip, "w") as zi:
        z.writestr("README", "gtFine")
        for split, name in (("val", "frankfurt_000000_000294"), ("train", "aachen_000000_000019")):
            city = name.split("_")[0]
            labels = np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8)
            z.writestr(f"gtFine/{split}/{city}/{name}_gtFine_instanceIds.png", _png(ids))
            z.writestr(f"gtFine/{split}/{city}/{name}_gtFine_labelIds.png", _png(labels))
            z.writestr(f"gtFine/{split}/{city}/{name}_gtFine_polygons.json", "{}")
            zi.writestr(f"leftImg8bit/{split}/{city}/{name}_leftImg8bit.png", _png(np.zeros((H, W, 3), np.uint8)))
    return gt_zip, img_zip


def test_cityscapes_conversion(tmp_path):
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    assert convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "val") == 1
    split = _check_split(tmp_path / "val")
    assert split.vocabulary.name == "cityscapes"
    (im,) = split.images
    assert (im.id, im.file_name) == ("frankfurt_000000_000294", "frankfurt_000000_000294_leftImg8bit.png")
    by_name = {(CITYSCAPES.by_id(s.category_id).name, s.id): (s.area, s.iscrowd) for s in im.segments}
    assert by_name == {
        ("road", 7): (4 * W - 4 * 3 - 6 - 4 - 4 - 1, 0), ("sidewalk", 8): (12, 0), ("building", 11): (4 * W - 2 - 3, 0),
        ("sky", 23): (4 * W, 0), ("person", 24000): (3, 0), ("car", 26): (4, 1), ("car", 26000): (6, 0),
        ("car", 26001): (4, 0)}
    ids = split.segment_ids(im)
    assert ids[11, 15] == 0 and (ids[4, 0:2] == 0).all()


@pytest.mark.parametrize("archive, member", [
    ("gtFine_trainvaltest.zip", "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_instanceIds.png"),
    ("leftImg8bit_trainvaltest.zip", "leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png"),
])
def test_cityscapes_unreadable_png_names_its_member(tmp_path, archive, member):
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    _rewrite_member(tmp_path / archive, member, b"\x89PNG truncated")
    with pytest.raises(InputError, match=rf"{archive}:{member}: not a readable image"):
        convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "val")


def test_cityscapes_missing_image_names_the_archive(tmp_path):
    gt_zip, _ = _cityscapes_archives(tmp_path)
    empty = tmp_path / "leftImg8bit_empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(InputError, match=r"gtFine_trainvaltest.zip:gtFine/val/frankfurt/frankfurt_000000_000294_"
                                         r"gtFine_instanceIds.png: no image frankfurt_000000_000294 in "
                                         r".*leftImg8bit_empty.zip \(1 instanceIds PNG\(s\) without one"):
        convert_cityscapes(gt_zip, empty, "val", tmp_path / "out")


PACKAGE = b"cityscapes package bytes " * 4000


class _CityscapesServer(BaseHTTPRequestHandler):
    """The endpoints that cityscapesscripts' downloader and our login use."""

    logins: list[dict] = []

    def log_message(self, *args):
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        type(self).logins.append(form)
        ok = form.get("username") == ["alice"] and form.get("password") == ["s3cret"]
        self._send(302 if ok else 200, headers={"Location": "/"} if ok else {})

    def do_GET(self):
        if self.path.startswith("/login"):
            self._send(200, b"login page")
        elif self.path == "/downloads/?list":
            listing = [{"name": "gtFine_trainvaltest.zip", "packageID": "1", "size": "98KB", "thirdparty": "0"}]
            self._send(200, json.dumps(listing).encode())
        elif self.path == "/md5-sum/?packageID=1":
            self._send(200, f"{hashlib.md5(PACKAGE).hexdigest()}  gtFine_trainvaltest.zip".encode())
        elif self.path == "/file-handling/?packageID=1":
            start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0])
            self._send(206 if start else 200, PACKAGE[start:])
        else:
            self._send(404)


class _ToLocal(requests.adapters.HTTPAdapter):
    """Send requests for the Cityscapes server to the local test server instead."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def send(self, request, **kwargs):
        request.url = request.url.replace("https://www.cityscapes-dataset.com", self.base)
        return super().send(request, **kwargs)


@pytest.fixture()
def local_cityscapes():
    _CityscapesServer.logins = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _CityscapesServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    session = requests.Session()
    session.mount("https://www.cityscapes-dataset.com", _ToLocal(f"http://127.0.0.1:{httpd.server_address[1]}"))
    yield session
    httpd.shutdown()
    httpd.server_close()


def test_cityscapes_download_through_cityscapesscripts(local_cityscapes, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "s3cret")
    session = cityscapes_session(local_cityscapes)
    dest = tmp_path / "downloads" / "gtFine_trainvaltest.zip"
    # a partial package from an interrupted run is resumed
    (tmp_path / "downloads" / "gtFine_trainvaltest.zip.part").mkdir(parents=True)
    (tmp_path / "downloads" / "gtFine_trainvaltest.zip.part" / "gtFine_trainvaltest.zip").write_bytes(PACKAGE[:5000])
    download_cityscapes_package("gtFine_trainvaltest.zip", dest, hashlib.sha256(PACKAGE).hexdigest(), session=session)
    assert dest.read_bytes() == PACKAGE and not (tmp_path / "downloads" / "gtFine_trainvaltest.zip.part").exists()


def test_cityscapes_download_refuses_a_wrong_checksum(local_cityscapes, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "s3cret")
    dest = tmp_path / "gtFine_trainvaltest.zip"
    with pytest.raises(InputError, match=r"gtFine_trainvaltest.zip: sha256 mismatch .* expected 0{64}, got [0-9a-f]{64}"):
        download_cityscapes_package("gtFine_trainvaltest.zip", dest, "0" * 64,
                                    session=cityscapes_session(local_cityscapes))
    assert not dest.exists()


def test_cityscapes_credentials_come_from_the_environment(local_cityscapes, monkeypatch):
    monkeypatch.delenv("CITYSCAPES_USERNAME", raising=False)
    monkeypatch.delenv("CITYSCAPES_PASSWORD", raising=False)
    monkeypatch.setenv("NETRC", os.devnull)  # nor from a ~/.netrc of the machine the tests run on
    with pytest.raises(InputError, match="CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD"):
        cityscapes_session(local_cityscapes)
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "wrong")
    with pytest.raises(InputError, match="login refused") as err:
        cityscapes_session(local_cityscapes)
    assert "wrong" not in str(err.value)


def test_cityscapes_unknown_package_is_a_clear_error(local_cityscapes, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "s3cret")
    with pytest.raises(InputError, match=r"nope.zip: download of cityscapes package nope.zip failed: .*do not exist"):
        download_cityscapes_package("nope.zip", tmp_path / "nope.zip", None, session=cityscapes_session(local_cityscapes))


# --- bad input and reruns ----------------------------------------------------------------------

def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_ade20k_an_interrupted_rerun_is_not_taken_as_done_and_resumes_byte_identical(tmp_path):
    """A rerun that fails after the first run completed leaves no panoptic.json (the mark of a
    finished split) beside the emptied folders; the next rerun writes the first run's bytes."""
    scene_zip, inst_tar = _ade_archives(tmp_path)
    out = tmp_path / "val"
    convert_ade20k(scene_zip, inst_tar, "val", out)
    first = _files(out)
    assert {"panoptic.json", "images/ADE_val_00000001.jpg", "panoptic/ADE_val_00000001.png",
            "semantic/ADE_val_00000001.png"} == set(first)
    good = scene_zip.read_bytes()
    _rewrite_member(scene_zip, "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png", b"\x89PNG cut")
    with pytest.raises(InputError, match="not a readable image"):
        convert_ade20k(scene_zip, inst_tar, "val", out)
    assert not (out / "panoptic.json").exists()
    scene_zip.write_bytes(good)
    convert_ade20k(scene_zip, inst_tar, "val", out)
    assert _files(out) == first


def test_cityscapes_rerun_is_byte_identical(tmp_path):
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "val")
    first = _files(tmp_path / "val")
    convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "val")
    assert _files(tmp_path / "val") == first and "semantic" not in {Path(n).parts[0] for n in first}


def test_ade20k_annotation_of_another_size_than_its_image_names_both(tmp_path):
    scene_zip, inst_tar = _ade_archives(tmp_path)
    image = "ADEChallengeData2016/images/validation/ADE_val_00000001.jpg"
    _rewrite_member(scene_zip, image, _jpg(H, W + 1))
    with pytest.raises(InputError, match=rf"ADEChallengeData2016.zip:{image}: the image is {W + 1}x{H} but its "
                                         rf"annotation .*ADEChallengeData2016.zip:ADEChallengeData2016/annotations/"
                                         rf"validation/ADE_val_00000001.png is {W}x{H}"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")


def test_cityscapes_annotation_of_another_size_than_its_image_names_both(tmp_path):
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    image = "leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png"
    _rewrite_member(img_zip, image, _png(np.zeros((H + 2, W, 3), np.uint8)))
    with pytest.raises(InputError, match=rf"leftImg8bit_trainvaltest.zip:{image}: the image is {W}x{H + 2} but its "
                                         r"annotation .*gtFine_trainvaltest.zip:gtFine/val/frankfurt/"
                                         rf"frankfurt_000000_000294_gtFine_instanceIds.png is {W}x{H}"):
        convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "out")


def _add_member(archive: Path, name: str, data: bytes) -> None:
    """Add one member to a zip or tar archive."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "a") as z:
            z.writestr(name, data)
        return
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("archive, member, what", [
    ("ADEChallengeData2016.zip", "ADEChallengeData2016/annotations/validation/ADE_val_00000002.png", "semantic"),
    ("annotations_instance.tar", "annotations_instance/validation/ADE_val_00000002.png", "instance"),
])
def test_ade20k_an_annotation_without_its_image_names_it(tmp_path, archive, member, what):
    """An annotation PNG whose image the scene-parsing archive lacks is an error naming it (the
    image went missing from the archive), even when only the first images are converted."""
    scene_zip, inst_tar = _ade_archives(tmp_path)
    _add_member(tmp_path / archive, member, _png(np.zeros((H, W), np.uint8)))
    for limit in (None, 1):
        with pytest.raises(InputError, match=rf"{archive}:{member}: no image ADE_val_00000002 in .*"
                                             rf"ADEChallengeData2016.zip \(1 {what} PNG\(s\) without one"):
            convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out", limit=limit)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_cityscapes_an_image_without_its_annotation_names_it(tmp_path):
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    member = "leftImg8bit/val/frankfurt/frankfurt_000000_000576_leftImg8bit.png"
    _add_member(img_zip, member, _png(np.zeros((H, W, 3), np.uint8)))
    with pytest.raises(InputError, match=rf"leftImg8bit_trainvaltest.zip:{member}: no instanceIds PNG "
                                         r"frankfurt_000000_000576 in .*gtFine_trainvaltest.zip \(1 image\(s\) without one"):
        convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "out")


def test_a_member_twice_in_an_archive_names_both(tmp_path):
    """Two members that give one image id (a nested second copy) are an error, not one silently
    taking the other's place."""
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    copy = "copy/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png"
    _add_member(img_zip, copy, _png(np.zeros((H, W, 3), np.uint8)))
    with pytest.raises(InputError, match=rf"leftImg8bit_trainvaltest.zip: {copy} and leftImg8bit/val/frankfurt/"
                                         r"frankfurt_000000_000294_leftImg8bit.png are both frankfurt_000000_000294"):
        convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "out")


@pytest.mark.parametrize("value, label", [(34, 34), (40000, 40), (255, 255)])
def test_cityscapes_unknown_label_id_names_the_png(tmp_path, value, label):
    """A value whose label id is none of cityscapesScripts' (0..33) is an error, not silently void."""
    gt_zip, img_zip = _cityscapes_archives(tmp_path)
    member = "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_instanceIds.png"
    ids = np.full((H, W), 7, np.uint16)
    ids[0, 0] = value
    _rewrite_member(gt_zip, member, _png(ids))
    with pytest.raises(InputError, match=rf"gtFine_trainvaltest.zip:{member}: value {value} \(label id {label}\) "
                                         r"is not a Cityscapes label id \(0..33"):
        convert_cityscapes(gt_zip, img_zip, "val", tmp_path / "out")


def test_ade20k_colour_semantic_png_names_it(tmp_path):
    scene_zip, inst_tar = _ade_archives(tmp_path)
    member = "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png"
    _rewrite_member(scene_zip, member, _png(np.ones((H, W, 3), np.uint8)))
    with pytest.raises(InputError, match=rf"ADEChallengeData2016.zip:{member}: expected a one-channel semantic PNG"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")


def _instance_png(classes: tuple[int, ...], size: tuple[int, int] = (H, W)) -> bytes:
    """An instance PNG whose instance 1 covers one pixel of each of `classes` (R = class, G = 1)."""
    instance = np.zeros((*size, 3), np.uint8)
    for x, cls in enumerate(classes):
        instance[0, x] = (cls, 1, 0)
    return _png(instance)


@pytest.mark.parametrize("data, message", [
    (_instance_png((1,), (H + 1, W)), r"instance PNG must be RGB of the semantic map's size \(12, 16\)"),
    (_png(np.zeros((H, W), np.uint8)), r"instance PNG must be RGB of the semantic map's size"),
    (_instance_png((1, 2)), r"instance 1 has instance class\(es\) \[1, 2\], expected one in 1..100"),
    (_instance_png((0,)), r"instance 1 has instance class\(es\) \[0\], expected one in 1..100"),
    (_instance_png((101,)), r"instance 1 has instance class\(es\) \[101\], expected one in 1..100"),
    (_instance_png((1,))[:48], r"not a readable image \(image file is truncated"),
])
def test_ade20k_bad_instance_png_names_its_member(tmp_path, data, message):
    """An instance PNG of another size, one channel, an instance of no, several or an unknown
    instance class, a truncated PNG: each an error naming the tar and the member."""
    scene_zip, _ = _ade_archives(tmp_path)
    member = "annotations_instance/validation/ADE_val_00000001.png"
    inst_tar = tmp_path / "instances.tar"
    with tarfile.open(inst_tar, "w") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InputError, match=rf"instances.tar:{member}: {message}"):
        convert_ade20k(scene_zip, inst_tar, "val", tmp_path / "out")
    assert not (tmp_path / "out" / "panoptic.json").exists()
