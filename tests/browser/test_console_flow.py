"""A complaint from intake to the court's decision, as the people involved click through it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import sign_in, sign_out


def _open_action(page: Page, box: str) -> None:
    page.locator(f"details#{box} > summary").click()


def test_a_complaint_goes_from_intake_to_the_courts_decision(page: Page, base_url: str) -> None:
    # The caseworker registers the complaint (the console speaks Chinese by default).
    sign_in(page, base_url, "cw1")
    expect(page.locator("h1")).to_have_text("我的待办")
    page.get_by_role("link", name="登记投诉").first.click()
    page.select_option("#channel", "phone")
    page.select_option("#category", "marriage_family")
    page.select_option("#risk", "low")
    page.fill("#c_name", "张小红")
    page.fill("#c_phone", "13812341234")
    page.fill("#r_name", "王大力")
    page.fill("#summary", "丈夫长期不给生活费，要求调解")
    page.locator("form.register button.primary").click()
    expect(page.locator(".flash-success")).to_contain_text("V001-")
    expect(page.locator("h1")).to_contain_text("登记待受理")
    expect(page.locator(".person").first).to_contain_text("张**")
    number = re.search(r"V001-\d{4}-\d{5}", page.locator("h1").inner_text()).group(0)

    # She accepts it, records a mediation session, and refers it to the court panel.
    _open_action(page, "event-accept")
    page.locator("details#event-accept button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("调解中")

    _open_action(page, "session")
    page.fill("#session-participants", "张小红\n王大力")
    page.fill("#session-result", "双方未达成一致")
    page.locator("details#session button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("调解记录已登记")

    _open_action(page, "event-refer")
    page.select_option("#event-refer-kind", "litigation")
    page.fill("#event-refer-summary", "调解不成，申请人要求起诉")
    page.locator("details#event-refer button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("已转介")
    sign_out(page)

    # The court liaison finds it awaiting acknowledgement, acknowledges it and decides.
    sign_in(page, base_url, "liaison")
    expect(page.locator("h1")).to_have_text("转介签收")
    awaiting = page.locator("table.cases").first
    expect(awaiting).to_contain_text(number)
    awaiting.get_by_role("link", name=number).click()

    _open_action(page, "event-acknowledge")
    page.fill("#event-acknowledge-docket_number", "(2026)民初100号")
    page.locator("details#event-acknowledge button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("合议庭办理")

    _open_action(page, "event-decide")
    page.select_option("#event-decide-outcome", "judgment")
    page.locator("details#event-decide button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("已结案")
    expect(page.locator("#timeline")).to_contain_text("作出处理结果")

    # The printable package is there for the panel.
    page.get_by_role("link", name="转介材料").click()
    expect(page.locator("h1")).to_have_text("转介材料")
    expect(page.locator(".sheet")).to_contain_text("张小红")
    expect(page.locator("button[data-print]")).to_be_visible()

    # And the console switches to English.
    page.locator("button[name=lang][value=en]").click()
    expect(page.locator("h1")).to_have_text("Referral package")
    page.get_by_role("link", name="Referrals").click()
    expect(page.locator("h1")).to_have_text("Referral inbox")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_the_reporting_duty_shows_as_soon_as_the_form_shows_it(page: Page, base_url: str) -> None:
    sign_in(page, base_url, "cw1b")
    page.goto(f"{base_url}/cases/new")
    notice = page.locator("#duty-notice")
    expect(notice).to_be_hidden()
    page.select_option("#category", "domestic_violence")
    page.fill("#v_name", "王小花")
    expect(notice).to_be_hidden()
    page.check("#v_is_minor")
    expect(notice).to_be_visible()
    page.select_option("#category", "property_rights")
    expect(notice).to_be_hidden()


def test_the_queue_fits_a_phone_screen(browser: Browser, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone, base_url, "cw1")
        expect(phone.locator("h1")).to_have_text("我的待办")
        overflow = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1
    finally:
        context.close()


def test_a_version_conflict_is_explained_in_the_browser(page: Page, base_url: str) -> None:
    sign_in(page, base_url, "cw2")
    page.goto(f"{base_url}/cases/new")
    page.select_option("#channel", "visit")
    page.select_option("#category", "neighbour_dispute")
    page.select_option("#risk", "low")
    page.locator("form.register button.primary").click()
    case_url = page.url
    other = page.context.new_page()
    other.goto(case_url)
    other.locator("details#event-accept > summary").click()
    other.locator("details#event-accept button[type=submit]").click()
    expect(other.locator("h1")).to_contain_text("调解中")
    # The first tab still shows version 1.
    _open_action(page, "event-withdraw")
    page.fill("#event-withdraw-reason", "投诉人撤回")
    page.locator("details#event-withdraw button[type=submit]").click()
    expect(page.locator(".conflict")).to_contain_text("其他人修改了这个案件")
    page.get_by_role("link", name="重新载入案件").click()
    expect(page.locator("h1")).to_contain_text("调解中")
