"""What a data team does in the web UI, in a real Chromium against a real `harvest up` (see conftest)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, TOKEN, Stack, Watched
from tests.sites.testsite import article

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    # a shared, busy machine: the first vector query loads the model, a page may wait on a slow answer
    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(locator)


def multi_select(page: Any, label: str, kind: str = "MultiSelect") -> Any:
    """The input of a Mantine MultiSelect or TagsInput by its label (a combobox, not a labelled textbox)."""
    root = page.locator(f".mantine-{kind}-root").filter(has=page.get_by_text(label, exact=True))
    return root.locator("input").first


def test_the_token_is_asked_for_once_and_the_overview_shows_counts_and_runs(
    browser: Any, stack: Stack
) -> None:
    context = browser.new_context(viewport=DESKTOP, base_url=stack.url)
    watched = Watched(context.new_page())
    watched.expected_statuses = {401}  # reads without a token, then a wrong token
    page = watched.page
    try:
        page.goto("/")
        dialog = page.get_by_role("dialog", name="API token")
        expect(dialog).to_be_visible()  # a 401 sends you to the token prompt
        dialog.get_by_label("Token").fill("not-the-token")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog.get_by_text("the server refused this token")).to_be_visible()
        dialog.get_by_label("Token").fill(TOKEN)
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("button", name="Token set")).to_be_visible()
        expect(page.get_by_test_id("count-documents")).not_to_have_text("0")
        runs = page.get_by_role("table", name="Recent pipeline runs")
        expect(runs.get_by_role("row").filter(has_text="demo").first).to_contain_text("succeeded")
        expect(page.get_by_text("Nothing needs attention")).to_be_visible()
        watched.shoot("overview")
        page.reload()  # kept for the session: no second prompt
        expect(page.get_by_test_id("count-documents")).not_to_have_text("0")
        expect(page.get_by_role("dialog", name="API token")).to_be_hidden()
    finally:
        context.close()
    assert not watched.problems, "\n".join(watched.problems)


def test_add_a_source_run_it_watch_progress_rerun_and_diff_versions(ui: Watched, stack: Stack) -> None:
    page = ui.page
    page.goto("/sources")
    page.get_by_role("button", name="New source").click()
    dialog = page.get_by_role("dialog", name="New source")
    dialog.get_by_label("Name").fill("changing")
    dialog.get_by_label("Start URLs").fill("ftp://example.org/")
    ui.expected_statuses = {422}
    dialog.get_by_role("button", name="Add source").click()
    # the API's validation message, shown at the field it is about
    expect(dialog.get_by_text("only http and https URLs can be crawled")).to_be_visible()
    ui.shoot("source-form")
    dialog.get_by_label("Start URLs").fill(f"{stack.site.base}/articles/1")
    dialog.get_by_label("Include (regex)").fill("/articles/")
    dialog.get_by_label("Max pages").fill("10")
    dialog.get_by_role("button", name="Add source").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row").filter(has_text="changing")).to_be_visible()
    ui.shoot("sources")

    page.get_by_role("button", name="Run changing now").click()
    expect(page).to_have_url(re.compile(r"/pipelines/\d+$"))
    status = page.get_by_test_id("pipeline-status")
    expect(status).to_have_text(re.compile("queued|running"))  # live, before it ends
    expect(page.get_by_test_id("stage-crawl")).to_be_visible()
    expect(status).to_have_text("succeeded", timeout=120_000)
    expect(page.get_by_test_id("stage-crawl")).to_contain_text("succeeded")
    expect(page.get_by_test_id("stage-embed")).to_contain_text("succeeded")
    ui.shoot("pipeline")

    stack.site.set_page("/articles/1", article(1, "Lisbon opened a floating solar farm on its reservoir."))
    first_run = page.url
    page.get_by_role("button", name="Run changing again").click()
    expect(page).not_to_have_url(first_run)  # the new run's page, not the finished one
    # The router swaps pages in a transition: the finished run's page (and its "succeeded") can stay on
    # screen for a moment after the URL changed, so wait for the new run's own page first.
    rerun = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name=f"Pipeline #{rerun}")).to_be_visible()
    expect(page.get_by_test_id("pipeline-status")).to_have_text("succeeded", timeout=120_000)

    page.goto("/documents?source=changing")
    page.get_by_role("link", name="Article 1", exact=True).click()
    page.get_by_role("tab", name=re.compile("Versions")).click()
    expect(page).to_have_url(re.compile(r"tab=versions"))
    diff = page.get_by_role("region", name="Differences")
    expect(diff.locator("[data-kind=added]")).to_contain_text("floating solar farm")
    expect(diff.locator("[data-kind=removed]")).to_contain_text("Article 1 explains topic number 1")
    ui.shoot("document-versions")
    page.reload()  # the comparison is a deep link
    expect(page.get_by_role("region", name="Differences")).to_contain_text("floating solar farm")


def test_search_in_each_mode_with_filters_facets_and_similar_documents(ui: Watched, stack: Stack) -> None:
    page = ui.page
    page.goto("/search")
    page.get_by_label("Query").fill("how do cities keep honeybees")
    page.get_by_role("button", name="Search", exact=True).click()
    for mode in ("Vector", "Keyword", "Hybrid"):
        page.get_by_text(mode, exact=True).click()
        expect(page).to_have_url(re.compile(f"mode={mode.lower()}" if mode != "Hybrid" else r"^(?!.*mode=)"))
        first = page.get_by_test_id("hit").first
        expect(first).to_contain_text("Rooftop beehives multiply across Paris")
        expect(first.locator("mark").first).to_be_visible()  # matched words highlighted
    multi_select(page, "Source").click()
    page.get_by_role("option", name="demo").click()
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"source=demo"))
    expect(page.get_by_test_id("hit").first).to_contain_text("Rooftop beehives")
    multi_select(page, "Source label", "TagsInput").fill("kind=news")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"label=kind%3Dnews"))
    expect(page.get_by_test_id("hit").first).to_contain_text("Rooftop beehives")
    facets = page.get_by_text("Entities in these results").locator("..")
    expect(facets.get_by_role("button").first).to_be_visible()
    ui.shoot("search")
    facets.get_by_role("button").first.click()
    expect(page).to_have_url(re.compile(r"entity=\d+"))
    expect(page.get_by_text("Mentioning:")).to_be_visible()

    page.goto("/search?q=sourdough+starter&mode=keyword")
    page.get_by_test_id("hit").first.get_by_role("link", name="Similar documents").click()
    expect(page).to_have_url(re.compile(r"similar=\d+"))
    expect(page.get_by_text("Documents similar to")).to_be_visible()
    expect(page.get_by_test_id("hit").first).to_be_visible()


def test_documents_filter_and_a_document_with_its_entities_chunks_and_metadata(
    ui: Watched, stack: Stack
) -> None:
    page = ui.page
    page.goto("/documents")
    multi_select(page, "Language").click()
    page.get_by_role("option", name=re.compile(r"^en \(")).click()
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"language=en"))
    table = page.get_by_role("table", name="Documents")
    expect(table.get_by_role("row").nth(1)).to_be_visible()
    page.get_by_label("From").fill("2099-01-01")
    expect(page.get_by_text("No document matches these filters")).to_be_visible()
    page.get_by_label("From").fill("")
    ui.shoot("documents")

    acme = stack.items("/api/entities", q="Acme Corporation", limit=1)[0]
    mention = stack.items(f"/api/entities/{acme['id']}/mentions", limit=1)[0]
    page.goto(f"/documents/{mention['document_id']}")
    marked = page.locator(f"mark[data-entity='{acme['id']}']").first
    expect(marked).to_be_visible()
    ui.shoot("document")
    page.get_by_role("tab", name="Chunks").click()
    expect(page.get_by_role("table", name="Chunks").get_by_role("row").nth(1)).to_be_visible()
    page.get_by_role("tab", name="Metadata").click()
    expect(page.get_by_role("table", name="Metadata")).to_contain_text("demo")
    page.get_by_role("tab", name="Duplicates & similar").click()
    expect(page.get_by_test_id("hit").first).to_be_visible()
    page.get_by_role("tab", name="Text").click()
    page.locator(f"mark[data-entity='{acme['id']}']").first.click()
    expect(page).to_have_url(re.compile(rf"/entities/{acme['id']}$"))
    expect(page.get_by_role("heading", name="Acme Corporation")).to_be_visible()


def test_merge_and_split_two_entities(ui: Watched, stack: Stack) -> None:
    page = ui.page
    globex = stack.items("/api/entities", q="Globex Industries", limit=1)[0]
    initech = stack.items("/api/entities", q="Initech", limit=1)[0]
    assert globex["id"] != initech["id"]
    page.goto("/entities")
    page.get_by_label("Name").fill("Globx Industires")  # typos welcome
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("table", name="Entities").get_by_role("link", name="Globex Industries").click()
    expect(page).to_have_url(re.compile(rf"/entities/{globex['id']}$"))
    ui.shoot("entity")

    page.get_by_role("button", name="Merge with…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Find the other entity").fill("Initech")
    dialog.get_by_role("button", name=f"Merge {initech['name']}").click()
    expect(dialog).to_be_hidden()
    split_button = page.get_by_role("button", name=f"Split off entry #{initech['id']}")
    expect(split_button).to_be_visible()
    merged = stack.api("GET", f"/api/entities/{globex['id']}")
    assert initech["id"] in merged["members"]

    split_button.click()
    page.get_by_role("dialog", name="Split this entry off?").get_by_role("button", name="Split").click()
    expect(split_button).to_be_hidden()
    after = stack.api("GET", f"/api/entities/{globex['id']}")
    assert initech["id"] not in after["members"]
    assert stack.api("GET", f"/api/entities/{initech['id']}")["id"] == initech["id"]


def test_cancel_a_running_pipeline(ui: Watched, stack: Stack) -> None:
    stack.api(
        "POST",
        "/api/sources",
        json={
            "name": "slow",
            "start_urls": [f"{stack.site.base}/gen/0"],
            "delay": 1.0,
            "concurrency": 1,
            "max_pages": 300,
        },
    )
    page = ui.page
    page.goto("/sources")
    page.get_by_role("button", name="Run slow now").click()
    expect(page).to_have_url(re.compile(r"/pipelines/\d+$"))
    expect(page.get_by_test_id("stage-crawl")).to_contain_text("running", timeout=60_000)
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("dialog", name="Cancel this run?").get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("pipeline-status")).to_have_text("cancelled")
    expect(page.get_by_text("cancelled by a user")).to_be_visible()
    run_id = int(page.url.rsplit("/", 1)[1])
    assert stack.api("GET", f"/api/pipelines/{run_id}")["status"] == "cancelled"
    page.goto("/pipelines?status=cancelled")
    expect(page.get_by_role("table", name="Pipeline runs").get_by_role("row").nth(1)).to_contain_text("slow")


PAGE_KIND = r"^https?://[^/]+/(?P<label>articles|section)/"


def wait_training(stack: Stack, run_id: int, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run: dict[str, Any] = stack.api("GET", f"/api/train/{run_id}")
        if run["status"] not in ("queued", "running"):
            assert run["status"] == "succeeded", run
            return run
        time.sleep(0.5)
    raise AssertionError(f"training run {run_id} still running after {timeout_s} s")


def test_train_promote_predict_roll_back_and_trace_a_model(ui: Watched, stack: Stack) -> None:
    rule = {"kind": "url", "pattern": PAGE_KIND}
    stack.api("POST", "/api/datasets", json={"name": "kinds", "sources": ["demo"], "label_rule": rule})
    wait_training(stack, stack.api("POST", "/api/train", json={"dataset": "kinds", "seed": 7})["id"])
    page = ui.page
    page.goto("/models")
    registry = page.get_by_role("table", name="Models")
    expect(registry.get_by_role("row").filter(has_text="kinds")).to_contain_text("none yet")
    page.get_by_role("button", name="Train on kinds").click()  # a second version, from the UI
    runs = page.get_by_role("table", name="Training runs")
    expect(runs.get_by_role("row")).to_have_count(3)  # header, the new run (newest first), the first
    expect(runs.get_by_role("row").nth(1)).to_contain_text("succeeded", timeout=240_000)
    ui.shoot("models")

    registry.get_by_role("link", name="kinds").click()
    expect(page).to_have_url(re.compile(r"/models/kinds$"))
    versions = page.get_by_role("table", name="Versions")
    expect(versions.get_by_role("row")).to_have_count(3)  # header + versions 2 and 1
    expect(page.get_by_test_id("production-version")).to_have_text("nothing in production")
    page.get_by_role("button", name="Promote version 1").click()
    expect(page.get_by_test_id("production-version")).to_have_text("production: version 1")
    expect(versions.get_by_role("row").nth(2)).to_contain_text("production")  # rows: header, 2, 1
    expect(page.get_by_role("button", name="Promote version 1")).to_be_hidden()

    page.get_by_label("Text to label").fill(
        "Wind turbines at sea: Acme Corporation builds a farm off the coast."
    )
    page.get_by_role("button", name="Predict").click()
    expect(page.get_by_test_id("predicted-label")).to_have_text(re.compile("^(articles|section)$"))
    expect(page.get_by_role("region", name="Prediction")).to_contain_text("version 1")

    page.get_by_role("button", name="Promote version 2").click()
    expect(page.get_by_test_id("production-version")).to_have_text("production: version 2")
    page.get_by_role("button", name="Predict").click()
    expect(page.get_by_role("region", name="Prediction")).to_contain_text("version 2")  # no restart needed
    page.get_by_role("button", name="Roll back").click()
    expect(page.get_by_test_id("production-version")).to_have_text("production: version 1")
    expect(page.get_by_role("button", name="Promote version 2")).to_be_visible()
    assert stack.api("GET", "/api/models/kinds")["production"] == 1

    expect(page.get_by_text("Loss per epoch")).to_be_visible()
    expect(page.locator(".recharts-line").first).to_be_visible()  # the curves are drawn
    lineage = page.get_by_role("table", name="Lineage")
    expect(lineage).to_contain_text("Dataset snapshot")
    documents = page.get_by_role("table", name="Training documents")
    expect(documents.get_by_role("row").nth(1)).to_contain_text(re.compile("train|validation|test"))
    ui.shoot("model")
    versions.get_by_role("button", name="2", exact=True).click()  # another version's curves and lineage
    expect(page).to_have_url(re.compile(r"version=2"))
    expect(page.get_by_role("heading", name="Version 2: lineage")).to_be_visible()
    documents.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/documents/\d+$"))
    page.get_by_role("tab", name="Models").click()  # the other way: which model versions used this page
    used = page.get_by_role("table", name="Snapshots with this document")
    used.get_by_role("link", name="kinds v1").click()
    expect(page).to_have_url(re.compile(r"/models/kinds\?version=1$"))
    expect(page.get_by_role("heading", name="Version 1: lineage")).to_be_visible()


PAGES = [
    ("/", "Overview", "overview"),
    ("/sources", "Sources", "sources"),
    ("/pipelines", "Pipelines & runs", "pipelines"),
    ("/documents", "Documents", "documents"),
    ("/search?q=renewable+electricity", "Search", "search"),
    ("/entities?q=acme", "Entities", "entities"),
    ("/models", "Models", "models"),
]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "phone"])
def test_every_page_renders_at_desktop_and_phone_width(ui: Watched, stack: Stack, viewport: Any) -> None:
    page = ui.page
    page.set_viewport_size(viewport)
    document_id = stack.items("/api/documents", limit=1)[0]["id"]
    acme = stack.items("/api/entities", q="Acme Corporation", limit=1)[0]
    pipeline = stack.items("/api/pipelines", limit=1)[0]
    pages = [
        *PAGES,
        (f"/pipelines/{pipeline['id']}", f"Pipeline #{pipeline['id']}", "pipeline"),
        (f"/documents/{document_id}", None, "document"),
        (f"/entities/{acme['id']}", "Acme Corporation", "entity"),
        ("/no/such/page", "No such page", "not-found"),
    ]
    pages += [(f"/models/{m['name']}", m["name"], "model") for m in stack.items("/api/models", limit=1)]
    for path, heading, name in pages:
        page.goto(path)
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        else:
            expect(page.get_by_role("tab", name="Text")).to_be_visible()
        expect(page.get_by_role("status")).to_have_count(0, timeout=20_000)  # nothing still loading
        ui.shoot(name)
