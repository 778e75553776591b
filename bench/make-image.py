#!/usr/bin/env python3
"""Builds a docker-archive (legacy layout, gzip layers) from host directories,
one layer per directory, for load and pull benchmarks.

    make-image.py OUT.tar TAG DIR [DIR ...]
    COMPRESS=zstd make-image.py ...      (zstd -3 layers instead of gzip -6)
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

out, tag, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
work = tempfile.mkdtemp(prefix="berth-bench-image-")
layers, diff_ids = [], []
for i, d in enumerate(dirs):
    raw = os.path.join(work, f"layer{i}.tar")
    # GNU tar: hard links, sparse files and xattrs as real images carry them.
    subprocess.run(["tar", "-C", d, "--numeric-owner", "--sort=name", "-cf", raw, "."], check=True)
    h = hashlib.sha256()
    with open(raw, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    diff_ids.append("sha256:" + h.hexdigest())
    if os.environ.get("COMPRESS") == "zstd":
        gz = raw + ".zst"
        cmd = ["zstd", "-3", "-q", "-c", "-T0", raw]
    else:
        gz = raw + ".gz"
        cmd = [shutil.which("pigz") or "gzip", "-6", "-n", "-c", raw]
    with open(gz, "wb") as f:
        subprocess.run(cmd, stdout=f, check=True)
    os.remove(raw)
    layers.append(gz)
config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
    "config": {"Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"COPY {d} /"} for d in dirs],
}).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
with tarfile.open(out, "w") as t:
    names = []
    for gz in layers:
        h = hashlib.sha256()
        with open(gz, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        name = h.hexdigest() + "/layer.tar"
        t.add(gz, arcname=name)
        names.append(name)
    for name, data in [(config_name, config),
                       ("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": names}]).encode())]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
shutil.rmtree(work)
