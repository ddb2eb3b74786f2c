"""A coordinator imports another tool's export: the answers are matched once for every
agreement question, N/A as no answer, and a corrected file replaces the import after a
confirmation; axe checks every page."""

from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD
from tests.e2e.test_analysis import snap

EXPORT = ("_uuid,meta/sector,group_a/cs_1,group_a/cs_2,group_b/tr_4\n"
          "u1,Funder,strongly_agree,Agree,N/A\n"
          "u2,Faith,Agree,Don't know,Disagree\n"
          "u3,Housing,Prefer not to say,strongly_agree,Agree\n")


def test_a_coordinator_matches_answers_once_and_replaces_an_import(visitor, tmp_path):
    page = visitor.sign_in("coordinator@example.org", DEMO_PASSWORD)
    visitor.click(".govuk-service-navigation a:has-text('Surveys')")
    visitor.click("a:has-text('Create a survey')")
    page.fill("#name", "Brackenford import check")
    page.fill("#run_by", "Brackenford Partnership Board")
    page.check("input[name=places] >> nth=0")
    visitor.click("button:has-text('Create survey')")
    visitor.click("a:has-text('Wave 1')")
    visitor.click("a:has-text('Open Wave 1')")
    visitor.click("button:has-text('Open Wave 1')")
    wave_url = page.url.split("#")[0].split("?")[0]
    visitor.goto(wave_url.removeprefix(visitor.base_url) + "/import")

    export = tmp_path / "kobo.csv"
    export.write_text(EXPORT)
    page.set_input_files("#file", str(export))
    visitor.click("button:has-text('Upload and match the columns')")
    expect(page.locator("h1")).to_have_text("Match the columns")
    # KoboToolbox group/name headings are matched to the question codes.
    expect(page.locator("#column-1")).to_have_value("sector")
    expect(page.locator("#column-2")).to_have_value("cs_1")
    expect(page.locator("#column-4")).to_have_value("tr_4")
    visitor.click("button:has-text('Continue')")

    # One matching for the three agreement columns, with the suggestions preselected.
    expect(page.locator("h1")).to_have_text("Check what the answers mean")
    expect(page.locator("h2:has-text('Answers in 3 columns')")).to_have_count(1)
    expect(page.locator("main select")).to_have_count(6 + 3)  # six answers once, not per column; three sectors
    row = page.locator("tr", has=page.locator("th:text-is('N/A')"))
    expect(row.locator("select option:checked")).to_have_text("No answer")
    row = page.locator("tr", has=page.locator("th:text-is('strongly_agree')"))
    expect(row.locator("select option:checked")).to_have_text("5: Strongly agree")
    row = page.locator("tr", has=page.locator("th:text-is(\"Don't know\")"))
    expect(row.locator("select option:checked")).to_have_text("Don't know")
    snap(visitor, "import-values")
    visitor.click("button:has-text('Confirm and preview the import')")

    expect(page.locator("h1")).to_have_text("Check the import")
    first = page.locator("main table tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text("Funder")
    visitor.click("button:has-text('Import 3 responses')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("3 responses imported into Wave 1")

    # A corrected file replaces the import; the matching is offered again as confirmed.
    visitor.click("#imported-files a:has-text('Replace')")
    expect(page.locator("h1")).to_have_text("Replace the import of kobo.csv")
    corrected = tmp_path / "kobo-corrected.csv"
    corrected.write_text(EXPORT.replace("u2,Faith,Agree", "u2,Faith,Disagree") + "u4,Funder,Agree,Agree,Agree\n")
    page.set_input_files("#file", str(corrected))
    visitor.click("button:has-text('Upload and match the columns')")
    visitor.click("button:has-text('Continue')")
    row = page.locator("tr", has=page.locator("th:text-is('Prefer not to say')"))
    expect(row.locator("select option:checked")).to_have_text("No answer")
    visitor.click("button:has-text('Confirm and preview the import')")
    expect(page.locator("h1")).to_have_text("Replace the import of kobo.csv?")
    expect(page.locator("#what-happens")).to_contain_text("and imports the 4 responses below from kobo-corrected.csv")
    visitor.click("button:has-text('Replace the import')")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Import of kobo.csv replaced by kobo-corrected.csv")
