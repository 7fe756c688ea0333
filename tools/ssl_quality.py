"""How well an embedding separates MNIST classes (docs/measurements.md, the self-supervised embedding):
1-NN test accuracy from 1 / 5 / 10 labelled pool images per class (mean of 5 draws), 20-NN accuracy
from all pool labels, k-means (10 clusters) purity on the pool. MNIST from $ALBENCH_DATA.

    python -m tools.ssl_quality raw
    python -m tools.ssl_quality simclr STEPS WIDTH BATCH [TAU [MIN_SCALE]]
    python -m tools.ssl_quality rotation EPOCHS
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
from sklearn.cluster import KMeans

from benchmark.core.registry import discover
from benchmark.core.spec import Component
from benchmark.data.loading import load_pool
from benchmark.learn.contrastive import SimCLRRecipe, encode, train_simclr

torch.set_num_threads(1)
discover()
if not os.environ.get("ALBENCH_DATA"):
    sys.exit("ssl_quality: set ALBENCH_DATA to the folder holding MNIST/raw/ (torchvision's layout)")
pool = load_pool(Component.parse("mnist", "dataset"), os.environ["ALBENCH_DATA"])
x, y = pool.train_x[:50000], pool.train_y[:50000]
xt, yt = pool.test_x, pool.test_y

def norm(a):
    a = np.asarray(a, np.float32)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

def quality(e, et, name, seconds=None):
    e, et = norm(e), norm(et)
    out = {"name": name, "seconds": seconds}
    rng = np.random.default_rng(0)
    for per in (1, 5, 10):
        accs = []
        for _ in range(5):
            lab = np.concatenate([rng.choice(np.flatnonzero(y == c), per, replace=False) for c in range(10)])
            pred = y[lab][np.argmax(et @ e[lab].T, 1)]
            accs.append((pred == yt).mean())
        out[f"1nn_{per}pc"] = round(float(np.mean(accs)), 4)
    t = torch.from_numpy(et)
    p = torch.from_numpy(e)
    top = torch.topk(t @ p.T, 20, dim=1).indices.numpy()
    votes = np.apply_along_axis(lambda r: np.bincount(y[r], minlength=10).argmax(), 1, top)
    out["20nn_all"] = round(float((votes == yt).mean()), 4)
    km = KMeans(10, n_init=3, random_state=0).fit_predict(e)
    purity = sum(np.bincount(y[km == c]).max() for c in range(10) if (km == c).any()) / len(y)
    out["kmeans10_purity"] = round(float(purity), 4)
    print(json.dumps(out), flush=True)

what = sys.argv[1]
if what == "raw":
    from sklearn.decomposition import PCA
    f = x.reshape(len(x), -1).astype(np.float32) / 255
    ft = xt.reshape(len(xt), -1).astype(np.float32) / 255
    pca = PCA(50, random_state=0).fit(f)
    quality(pca.transform(f), pca.transform(ft), "raw pixels, PCA-50")
elif what == "simclr":
    steps, width, bs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    tau = float(sys.argv[5]) if len(sys.argv) > 5 else SimCLRRecipe().temperature  # the shipped recipe's
    ms = float(sys.argv[6]) if len(sys.argv) > 6 else SimCLRRecipe().min_scale
    r = SimCLRRecipe(steps=steps, width=width, batch_size=bs, temperature=tau, min_scale=ms)
    t = time.perf_counter()
    enc = train_simclr(x, r, 0, torch.device("cpu"))
    e = encode(enc, x, torch.device("cpu"), 1024)
    sec = round(time.perf_counter() - t, 1)
    quality(e, encode(enc, xt, torch.device("cpu"), 1024), f"simclr steps={steps} width={width} bs={bs} tau={tau} min_scale={ms}", sec)
elif what == "rotation":
    from benchmark.learn.learner import Learner, LearnerRecipe
    from benchmark.learn.pretrain import RotationRecipe, train_rotation
    epochs = int(sys.argv[2])
    rec = RotationRecipe(epochs=epochs, batch_size=100, lr=0.05, momentum=0.5, weight_decay=0, lr_milestones=[2, 5] if epochs > 5 else None)
    t = time.perf_counter()
    state, acc = train_rotation("lenet", x, pool.mean, pool.std, rec, 0, torch.device("cpu"))
    path = os.path.join(tempfile.mkdtemp(), "rot.pt")
    torch.save(state, path)
    lr = Learner(LearnerRecipe(model="lenet", device="cpu"), 10, pool.image_shape, pool.mean, pool.std, seed=0, init_file=path)
    e = lr.penultimate(x)
    sec = round(time.perf_counter() - t, 1)
    quality(e, lr.penultimate(xt), f"rotation lenet epochs={epochs} (penultimate)", sec)
