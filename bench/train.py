"""Training benchmark on a real site: Debian's Django documentation, crawled through Harvest's stages.

  .venv/bin/python bench/train.py           # 8 predict batches per side, the full training schedule
  .venv/bin/python bench/train.py --quick   # 3 predict batches per side (same corpus, same training)

Needs `apt-get install python-django-doc` (its HTML under /usr/share/doc/python-django-doc/html), served on
127.0.0.1:18560. The corpus (crawl → process → embed with the default model) is built once under
--data-dir and reused by later runs. Label = the page's top-level docs section from the URL path rule
(releases, ref, topics, howto, internals, intro, faq, misc). In one run:
  (a) Harvest's head (`harvest train`, defaults) on the dataset's snapshot: test macro-F1, training seconds;
  (b) a TF-IDF + logistic-regression baseline (scikit-learn) on the same snapshot's same splits;
  (c) predictions for batches of 64 texts (the test pages' first 1,000 characters) in-process
      (`Predictor.predict_texts`) and through the API (`POST /api/models/NAME/predict`, its own process):
      the ratio of their throughputs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

from harvest.crawl.runner import run_crawl
from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.embeddings.stage import embed_pending
from harvest.errors import ConflictError, NotFoundError
from harvest.process.runner import process_pending
from harvest.settings import load_settings, settings_env
from harvest.train.datasets import create_dataset, get_dataset
from harvest.train.inference import Predictor
from harvest.train.registry import promote
from harvest.train.snapshots import build_snapshot, load_snapshot
from harvest.train.trainer import TrainOptions, train

DOCS = Path("/usr/share/doc/python-django-doc/html")
SITE_PORT = 18560
API_PORT = 18561
BATCH = 64
SECTIONS = "releases|ref|topics|howto|internals|intro|faq|misc"


def serve_docs() -> subprocess.Popen[bytes]:
    if not DOCS.is_dir():
        sys.exit(f"{DOCS} is missing: apt-get install -y --no-install-recommends python-django-doc")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(SITE_PORT),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(DOCS),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{SITE_PORT}/index.html", timeout=2)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    sys.exit("the docs server did not start")


def build_corpus(settings: object) -> None:
    """Crawl, process and embed the docs once (each stage is incremental: a rerun costs 304s)."""
    engine = get_engine(settings)  # type: ignore[arg-type]
    try:
        add_source(
            engine,
            parse_spec(
                {
                    "name": "django",
                    "start_urls": [f"http://127.0.0.1:{SITE_PORT}/index.html"],
                    "exclude": [
                        "/_modules/",
                        "/_sources/",
                        "genindex",
                        "search.html",
                        "py-modindex",
                    ],
                    "max_pages": 3000,
                    "concurrency": 8,
                }
            ),
        )
        print("crawling the Django docs (first run only) …", flush=True)
    except ConflictError:  # added by an earlier run: the corpus is reused
        pass
    started = time.perf_counter()
    run = run_crawl(settings, "django")  # type: ignore[arg-type]
    assert run.status == "succeeded", run.message
    process_pending(settings, "django")  # type: ignore[arg-type]
    report = embed_pending(settings)  # type: ignore[arg-type]
    print(
        f"corpus: crawl/process/embed {time.perf_counter() - started:.1f} s ({report.embedded} new vectors)"
    )


def baseline_f1(table: object) -> tuple[float, float]:
    """TF-IDF + logistic regression on the same snapshot and splits: test macro-F1 and training seconds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    splits = table.column("split").to_pylist()  # type: ignore[attr-defined]
    labels = table.column("label").to_pylist()  # type: ignore[attr-defined]
    texts = [
        f"{t or ''}\n\n{x}"
        for t, x in zip(table.column("title").to_pylist(), table.column("text").to_pylist(), strict=True)  # type: ignore[attr-defined]
    ]
    train_idx = [i for i, s in enumerate(splits) if s in ("train", "validation")]
    test_idx = [i for i, s in enumerate(splits) if s == "test"]
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), max_features=200_000)
    x_train = vectorizer.fit_transform([texts[i] for i in train_idx])
    model = LogisticRegression(max_iter=3000, class_weight="balanced", C=10.0)
    model.fit(x_train, [labels[i] for i in train_idx])
    seconds = time.perf_counter() - started
    predicted = model.predict(vectorizer.transform([texts[i] for i in test_idx]))
    truth = [labels[i] for i in test_idx]
    present = sorted(set(truth) | set(predicted))
    return float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)), seconds


def throughput(call: object, batches: list[list[str]]) -> float:
    call(batches[0])  # type: ignore[operator]  # warm-up
    started = time.perf_counter()
    for batch in batches:
        call(batch)  # type: ignore[operator]
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 predict batches per side instead of 8")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "harvest-bench-train")
    args = parser.parse_args()
    batches_per_side = 3 if args.quick else 8
    settings = load_settings(
        _env_file=None,
        data_dir=args.data_dir,
        crawl_allowed_hosts=["127.0.0.1"],
        log_level="WARNING",
        api_port=API_PORT,
        api_public_reads=True,
    )
    site = serve_docs()
    try:
        build_corpus(settings)
        engine = get_engine(settings)
        try:
            get_dataset(engine, "django-sections")
        except NotFoundError:
            create_dataset(
                engine,
                "django-sections",
                sources=["django"],
                rule={"kind": "url", "pattern": rf"^https?://[^/]+/(?P<label>{SECTIONS})/"},
            )
        snapshot = build_snapshot(settings, "django-sections")
        print(f"snapshot {snapshot.id[:12]}: {snapshot.rows} pages, splits {snapshot.manifest['splits']}")
        print(f"labels (train split): {snapshot.manifest['label_distribution']['train']}")

        started = time.perf_counter()
        run = train(settings, "django-sections", TrainOptions())
        wall = time.perf_counter() - started
        assert run.status == "succeeded", run.message
        head_f1 = float(run.metrics["test_macro_f1"])
        train_s = float(run.metrics["train_seconds"])
        print(
            f"(a) head: test macro-F1 {head_f1:.3f}, training {train_s:.1f} s "
            f"(best epoch {int(run.metrics['best_epoch'])}; whole `harvest train` incl. snapshot check, "
            f"MLflow logging and registration {wall:.1f} s) → version {run.model_version}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            table = load_snapshot(settings, snapshot, Path(tmp))
        base_f1, base_s = baseline_f1(table)
        print(f"(b) TF-IDF + logistic regression: test macro-F1 {base_f1:.3f}, training {base_s:.1f} s")

        promote(settings, "django-sections", int(run.model_version or 0))
        splits = table.column("split").to_pylist()
        texts = [
            t[:1000] for t, s in zip(table.column("text").to_pylist(), splits, strict=True) if s != "train"
        ]
        texts = (texts * (1 + (BATCH * batches_per_side) // max(len(texts), 1)))[: BATCH * batches_per_side]
        batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        predictor = Predictor(settings)
        inproc = throughput(lambda b: predictor.predict_texts("django-sections", b), batches)
        print(f"(c) in-process predict: {inproc:.1f} texts/s (batches of {BATCH})")
        server = subprocess.Popen(
            [sys.executable, "-m", "harvest", "api", "serve", "--port", str(API_PORT)],
            env=settings_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{API_PORT}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            with httpx.Client(base_url=url, timeout=300) as http:

                def over_api(batch: list[str]) -> None:
                    answer = http.post("/api/models/django-sections/predict", json={"texts": batch})
                    assert answer.status_code == 200, answer.text

                api = throughput(over_api, batches)
        finally:
            server.terminate()
            server.wait(timeout=30)
        ratio = api / inproc
        print(f"(c) API predict: {api:.1f} texts/s → ratio {ratio:.2f} (target >= 0.8)")
        print(f"head_f1 {head_f1:.3f} vs baseline_f1 {base_f1:.3f} (target: head >= baseline)")
        print(
            f"RESULT head_f1={head_f1:.4f} baseline_f1={base_f1:.4f} train_s={train_s:.2f} "
            f"predict_api_ratio={ratio:.3f} pages={snapshot.rows} inproc_texts_per_s={inproc:.1f} "
            f"api_texts_per_s={api:.1f}"
        )
    finally:
        site.terminate()
        site.wait(timeout=10)


if __name__ == "__main__":
    main()
