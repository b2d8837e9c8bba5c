"""The pages of ``rnnkit serve`` driven as a person would, in headless Chromium: a server on a free loopback port,
Playwright types and clicks, the rendered answer is read back and compared with the predictor's own output.

Needs Playwright for Python and a Chromium binary (Debian's ``chromium``; ``.ci/run`` installs it). Playwright's own
browser download is not used: the browser is ``$RNNKIT_CHROMIUM`` or ``chromium`` on the PATH. Without them the
tests are skipped, saying why.

``RNNKIT_SCREENSHOTS=docs/screenshots`` saves a screenshot of each page there (the README shows them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rnnkit.serve import create_app

from .conftest import DATA, series_columns
from .live import serving

# .ci/run sets RNNKIT_REQUIRE_BROWSER=1: there a missing browser fails these tests instead of skipping them
if os.environ.get("RNNKIT_REQUIRE_BROWSER") == "1":
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
CHROMIUM = os.environ.get("RNNKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if os.environ.get("RNNKIT_REQUIRE_BROWSER") == "1" and CHROMIUM is None:
    raise RuntimeError("RNNKIT_REQUIRE_BROWSER=1 but no Chromium binary: apt-get install chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (apt-get install chromium, or set "
                                                         "RNNKIT_CHROMIUM)")
SCREENSHOTS = os.environ.get("RNNKIT_SCREENSHOTS")


@pytest.fixture(scope="module")
def base_url(predictors):
    with serving(create_app(predictors, max_batch=8, max_wait_ms=1)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    errors, elsewhere = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith(("http://127.0.0.1:", "data:"))
            else elsewhere.append(request.url))
    yield page
    page.close()
    assert not errors, errors  # no script error on any page
    assert not elsewhere, elsewhere  # nothing fetched from anywhere but the app (no CDN)


def run_verb(page, verb: str):
    page.click(f"#{verb}-run")
    page.wait_for_selector(f"#{verb}-result[data-done], #{verb}-result .error")
    return page.locator(f"#{verb}-result")


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"serve-{name}.png"), full_page=True)


def bars(result) -> list[dict[str, float]]:
    """The probability bars of each output, as {label: p}."""
    return [{row.get_attribute("data-label"): float(row.get_attribute("data-p"))
             for row in output.locator(".bar-row").all()} for output in result.locator(".output").all()]


def assert_bars(result, records):
    shown = bars(result)
    assert len(shown) == len(records)
    for probabilities, record in zip(shown, records, strict=True):
        assert probabilities.keys() == record["probabilities"].keys()
        assert all(abs(probabilities[label] - p) < 1e-5 for label, p in record["probabilities"].items())
        assert max(probabilities, key=probabilities.get) == record["label"]


def test_the_index_lists_every_run_and_links_its_page(page, base_url, predictors):
    page.goto(base_url + "/")
    page.wait_for_selector("a.run-link")
    assert sorted(page.locator("a.run-link").all_inner_texts()) == sorted(predictors)
    screenshot(page, "index")
    page.click("a.run-link:text-is('classify')")
    page.wait_for_selector("#predict-run")
    assert page.inner_text("#title") == "classify"


def test_classify_shows_label_probabilities_as_bars(page, base_url, predictors):
    texts = ["the film was great", "boring and dull plot"]
    page.goto(base_url + "/runs/classify")
    page.fill("#predict-inputs", "\n".join(texts))
    assert_bars(run_verb(page, "predict"), predictors["classify"].predict(texts))
    screenshot(page, "classify")


def test_an_empty_input_shows_the_error_naming_the_field(page, base_url):
    page.goto(base_url + "/runs/classify")
    page.wait_for_selector("#predict-run")
    result = run_verb(page, "predict")
    assert result.locator(".error").inner_text().startswith("inputs: List should have at least 1 item")


def test_tag_colours_each_token_by_its_tag(page, base_url, predictors):
    sentence = "John Smith visited Paris"
    page.goto(base_url + "/runs/tag")
    page.fill("#predict-inputs", sentence)
    tokens = run_verb(page, "predict").locator(".token").all()
    [expected] = predictors["tag"].predict([sentence])
    assert [token.get_attribute("data-tag") for token in tokens] == expected["tags"]
    assert [token.locator(".word").inner_text() for token in tokens] == expected["tokens"]
    person, other = tokens[0].evaluate("n => n.style.background"), tokens[2].evaluate("n => n.style.background")
    assert expected["tags"][0] != "O" and person and not other  # an entity coloured, an O token not
    screenshot(page, "tag")


def test_lm_generates_with_temperature_and_length_and_scores(page, base_url, predictors):
    lm = predictors["lm"]
    page.goto(base_url + "/runs/lm")
    page.fill("#generate-prompt", "the ")
    page.fill("#generate-length", "30")
    page.fill("#generate-temperature", "0.7")
    page.fill("#generate-seed", "1")
    text = run_verb(page, "generate").locator("pre.generated").inner_text()
    assert text == lm.generate("the ", length=30, temperature=0.7, seed=1)
    page.fill("#score-inputs", "the cat sat")
    shown = run_verb(page, "score").locator(".score").inner_text()
    assert shown == f"log P = {lm.score('the cat sat')['logprob']:.3f}, perplexity = " \
                    f"{lm.score('the cat sat')['perplexity']:.3f}"
    screenshot(page, "lm")


def test_condgen_generates_for_the_chosen_label(page, base_url, predictors):
    page.goto(base_url + "/runs/condgen")
    page.select_option("#generate-condition", "weather")
    page.fill("#generate-n", "3")
    page.fill("#generate-seed", "4")
    texts = run_verb(page, "generate").locator("pre.generated").all_inner_texts()
    assert texts == predictors["condgen"].generate("weather", n=3, seed=4)


def test_seq2seq_shows_the_translation_and_its_attention_heatmap(page, base_url, predictors):
    sentence = "i see a dog ."
    seq2seq = predictors["seq2seq"]
    page.goto(base_url + "/runs/seq2seq")
    page.fill("#translate-inputs", sentence)
    result = run_verb(page, "translate")
    expected = seq2seq.translate(sentence)
    assert result.locator(".translation").inner_text() == expected["translation"]
    source, target, weights = seq2seq.attention(sentence, translation=expected["tokens"])
    rows = result.locator("table.heatmap tr").all()
    assert rows[0].locator("th").all_inner_texts()[1:] == source
    assert [row.locator("th").inner_text() for row in rows[1:]] == target
    shown = [[float(cell.get_attribute("data-weight")) for cell in row.locator("td").all()] for row in rows[1:]]
    assert all(abs(a - b) < 1e-5 for row, expected_row in zip(shown, weights.tolist(), strict=True)
               for a, b in zip(row, expected_row, strict=True))
    screenshot(page, "seq2seq")


def test_forecast_draws_series_forecast_and_interval(page, base_url, predictors):
    page.goto(base_url + "/runs/forecast")
    page.fill("#forecast-inputs", (DATA / "forecast" / "series.csv").read_text(encoding="utf-8"))
    page.fill("#forecast-horizon", "3")
    result = run_verb(page, "forecast")
    expected = predictors["forecast"].forecast(series_columns(), horizon=3)
    rows = [row.locator("td").all_inner_texts() for row in result.locator(".forecast-table tr").all()[1:]]
    assert [[float(cell) for cell in row[1:]] for row in rows] == [
        [round(expected[key][h][0], 3) for key in ("forecast", "lower", "upper")] for h in range(3)]
    for part in ("history", "forecast", "interval"):
        assert len(result.locator(f"svg.chart path.{part}").get_attribute("d")) > 10
    screenshot(page, "forecast")


def test_dna_reads_an_uploaded_fasta_file(page, base_url, predictors, tmp_path):
    fasta = tmp_path / "reads.fa"
    fasta.write_text(">first\nACGTGGGACT\nTTCCAAGT\n>second\nttttaaaaccccggggacgt\n", encoding="utf-8")
    page.goto(base_url + "/runs/dna")
    page.set_input_files("#predict-file", str(fasta))
    page.wait_for_function("document.querySelector('#predict-inputs').value.length > 0")
    assert_bars(run_verb(page, "predict"), predictors["dna"].predict(["ACGTGGGACTTTCCAAGT", "ttttaaaaccccggggacgt"]))
    screenshot(page, "dna")


def test_audio_classifies_an_uploaded_recording(page, base_url, predictors):
    wav = DATA / "audio" / "train" / "high_s_1.wav"
    page.goto(base_url + "/runs/audio")
    page.set_input_files("#predict-file", str(wav))
    result = run_verb(page, "predict")
    assert result.locator(".input").inner_text() == "high_s_1.wav"
    assert_bars(result, predictors["audio"].predict([str(wav)]))
    screenshot(page, "audio")


def test_a_page_asks_for_the_token_when_the_api_wants_one(page, predictors):
    with serving(create_app({"classify": predictors["classify"]}, token="s3cret")) as url:
        page.goto(url + "/")
        page.wait_for_selector("#token-box:not([hidden])")
        page.fill("#token", "s3cret")
        page.click("#token-save")
        page.wait_for_selector("a.run-link")
        page.click("a.run-link")
        page.fill("#predict-inputs", "nice")
        assert len(bars(run_verb(page, "predict"))) == 1
