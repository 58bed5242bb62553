"""The web app in a real browser: sign in, chat and watch it stream, cancel, search, approve a release note,
retry a dead job; another team's ids are 404 like unknown ones; a form without its CSRF token changes nothing."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import Seeded, Shots, run_sql

LIST_FILES = {"name": "file_path_searcher", "input": {"directory": ".", "repo_path": "/repo"}}


def sign_in(page: Page, web: Seeded, user: str = "ada") -> None:
    page.context.clear_cookies()
    page.goto(web.url("/app/jobs"))
    expect(page).to_have_url(re.compile(r"/app/sign-in\?next=/app/jobs$"))
    page.get_by_label("Access token").fill(web.deployment.tokens[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/app/jobs$"))


def test_sign_in_refuses_a_bad_token_and_the_session_cookie_is_locked_down(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    page.goto(web.url("/app"))
    expect(page).to_have_url(re.compile(r"/app/sign-in"))
    shots.take(page, "sign-in")
    page.get_by_label("Access token").fill("adj_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That token is not valid")
    assert not [c for c in browser.cookies() if c["name"] == "adj_web"]

    sign_in(page, web)
    cookie = next(c for c in browser.cookies() if c["name"] == "adj_web")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/app"
    assert cookie["value"] != web.deployment.tokens["ada"], "the browser gets a token of its own"
    response = page.goto(web.url("/app"))
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Team core")
    shots.take(page, "home")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/app/sign-in$"))
    token = run_sql(web.deployment, "SELECT revoked_at FROM api_tokens WHERE prefix = $1", cookie["value"][:12])
    assert token[0]["revoked_at"] is not None, "signing out revokes the browser's token"
    ada = run_sql(
        web.deployment, "SELECT revoked_at FROM api_tokens WHERE prefix = $1", web.deployment.tokens["ada"][:12]
    )
    assert ada[0]["revoked_at"] is None, "and only that one"
    page.close()


def test_chat_streams_text_and_tool_calls_then_cancel_stops_the_step(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web)
    words = " ".join(f"word{i}" for i in range(60))
    web.deployment.script(
        {"text": "The total is computed in cart.ts <b>here</b>. " + words, "chunk_chars": 8, "delay_ms": 40},
        {"text": "Let me list the files.", "tool_calls": [LIST_FILES]},
    )
    page.goto(web.url("/app/chat"))
    expect(page.get_by_label("Model")).to_have_value("scripted")
    page.get_by_label("Message").fill("where is the cart total computed?")
    page.get_by_role("button", name="Send").click()
    transcript = page.locator("#transcript")
    expect(transcript.locator(".assistant .text")).to_contain_text("computed in cart.ts")
    partial = transcript.locator(".assistant .text").inner_text()
    assert "word59" not in partial, "text arrives while the model is still writing"
    expect(page.locator("#chat-status")).to_have_text("Done.", timeout=15_000)
    expect(transcript.locator(".assistant .text")).to_contain_text("word59")
    expect(transcript.locator(".assistant .text")).to_contain_text("cart.ts <b>here</b>.")
    expect(transcript.locator(".assistant b")).to_have_count(0)  # model output is text, never markup

    page.get_by_label("Message").fill("which files are there?")
    page.get_by_role("button", name="Send").click()
    tool = transcript.locator(".assistant").last.locator(".tool")
    expect(tool.locator("code")).to_have_text("file_path_searcher")
    expect(tool.locator("pre")).to_contain_text('"repo_path"')
    expect(page.locator("#chat-status")).to_contain_text("tools that run in an IDE")
    shots.take(page, "chat")

    session_id = int(page.locator("#chat-form").get_attribute("data-session") or 0)
    assert session_id
    web.deployment.script({"text": "slow " * 400, "chunk_chars": 5, "delay_ms": 50})
    page.get_by_label("Message").fill("tell me a long story")
    page.get_by_role("button", name="Send").click()
    expect(transcript.locator(".assistant .text").last).to_contain_text("slow slow")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#chat-status")).to_have_text("Cancelled.")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    statuses = run_sql(
        web.deployment, "SELECT status FROM steps WHERE session_id = $1 ORDER BY id DESC LIMIT 1", session_id
    )
    assert statuses[0]["status"] == "CANCELLED"
    assert any(r["event"] == "cancelled" for r in web.deployment.requests()), "the provider call was stopped"

    page.goto(web.url("/app/sessions"))
    page.locator(f'a[href="/app/sessions/{session_id}"]').click()
    expect(page.locator(".turn.user .text").first).to_have_text("where is the cart total computed?")
    expect(page.locator(".tool code").first).to_have_text("file_path_searcher")
    expect(page.locator(".turn.assistant .text").first).to_contain_text("cart.ts <b>here</b>.")
    expect(page.locator(".turn.assistant b")).to_have_count(0)
    shots.take(page, "session")
    page.goto(web.url("/app/sessions"))
    shots.take(page, "sessions")
    page.close()


def test_search_filters_and_highlights_and_repositories_show_their_index(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web)
    page.goto(web.url("/app/search"))
    page.get_by_label("Search for").fill("open_connection")
    page.get_by_label("Retrieval").select_option("fts")
    page.get_by_label("Path starts with").fill("src/")
    page.get_by_role("button", name="Search").click()
    hit = page.locator(".hit").first
    expect(hit.locator("h3")).to_contain_text("shop: src/net/http_client.py")
    expect(hit.locator("mark").first).to_have_text("open_connection")
    shots.take(page, "search")
    page.get_by_label("Path starts with").fill("web/")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".hit h3", has_text="http_client.py")).to_have_count(0)

    page.goto(web.url("/app/repositories"))
    expect(page.locator("tr", has_text="shop").locator(".badge")).to_have_text("READY")
    shots.take(page, "repositories")
    page.close()


def test_a_member_cannot_approve_a_maintainer_does_and_the_diff_shows_the_polish(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web, "eve")  # the team's second member: role member
    page.goto(web.url(f"/app/release-notes/{web.note_id}"))
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_contain_text("needs the maintainer role")
    assert (
        run_sql(web.deployment, "SELECT status FROM release_notes WHERE id = $1", web.note_id)[0]["status"] == "draft"
    )

    sign_in(page, web, "ada")
    page.goto(web.url("/app/release-notes"))
    shots.take(page, "release-notes")
    page.get_by_role("link", name="v1.1.0").click()
    expect(page.locator(".diff .add", has_text="A smoother checkout, polished by the model.")).to_have_count(1)
    expect(page.locator(".diff .del")).to_have_count(0)
    shots.take(page, "release-note")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("h1 .badge")).to_have_text("approved")
    row = run_sql(web.deployment, "SELECT status, approved_at FROM release_notes WHERE id = $1", web.note_id)[0]
    assert row["status"] == "approved" and row["approved_at"] is not None
    page.close()


def test_retry_a_dead_job_and_a_form_without_its_csrf_token_changes_nothing(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web)
    for escape in ("/app/static/%2e%2e/session.py", "/app/static/..%2fsession.py", "/app/static/%2e%2e/%2e%2e/app.py"):
        outside = page.request.get(web.url(escape))
        assert outside.status == 404 and "def " not in outside.text(), escape
    own = page.request.get(web.url("/app/static/app.js"))
    assert own.status == 200 and own.headers["content-type"].startswith("text/javascript")
    forged = page.request.post(web.url(f"/app/jobs/{web.dead_job_id}/retry"), form={"x": "1"})
    assert forged.status == 403 and "did not come from this site" in forged.text()
    assert run_sql(web.deployment, "SELECT status FROM jobs WHERE id = $1", web.dead_job_id)[0]["status"] == "DEAD"

    page.goto(web.url("/app/jobs?status=DEAD"))
    expect(page.locator("table").first).to_contain_text("web.demo")
    shots.take(page, "jobs")
    page.get_by_role("button", name=f"Retry job {web.dead_job_id}").click()
    expect(page).to_have_url(re.compile(rf"/app/jobs/{web.dead_job_id}$"))
    expect(page.locator("h1 .badge")).not_to_have_text("DEAD")
    row = run_sql(web.deployment, "SELECT status, attempts FROM jobs WHERE id = $1", web.dead_job_id)[0]
    assert row["status"] != "DEAD" and row["attempts"] == 0
    shots.take(page, "job")
    page.close()


def test_another_teams_ids_answer_exactly_like_unknown_ones(web: Seeded, browser):
    with httpx.stream(
        "POST",
        web.url("/v1/query-solver/stream"),
        headers={"Authorization": f"Bearer {web.deployment.tokens['rival']}"},
        json={"query": "hello from the rival team"},
        timeout=30,
    ) as answer:
        frames = [json.loads(line[6:]) for line in answer.iter_lines() if line.startswith("data: ")]
    assert answer.status_code == 200, frames
    metadata = [f for f in frames if f.get("data", {}).get("type") == "RESPONSE_METADATA"]
    assert metadata, frames
    rival_session = metadata[0]["data"]["content"]["session_id"]

    page = browser.new_page()
    sign_in(page, web)
    for foreign, unknown in (
        (f"/app/jobs/{web.rival_job_id}", "/app/jobs/999999999"),
        (f"/app/sessions/{rival_session}", "/app/sessions/999999999"),
        (f"/app/chat?session={rival_session}", "/app/chat?session=999999999"),
    ):
        theirs, nobody = page.goto(web.url(foreign)), None
        assert theirs is not None and theirs.status == 404
        text = page.locator(".error p").first.inner_text()
        nobody = page.goto(web.url(unknown))
        assert nobody is not None and nobody.status == 404
        assert page.locator(".error p").first.inner_text() == text, foreign
    retried = page.request.post(
        web.url(f"/app/jobs/{web.rival_job_id}/retry"),
        form={"csrf_token": page.locator('meta[name="csrf-token"]').get_attribute("content") or ""},
    )
    assert retried.status == 404
    assert run_sql(web.deployment, "SELECT status FROM jobs WHERE id = $1", web.rival_job_id)[0]["status"] == "DEAD"
    page.close()


def test_integrations_usage_reviews_and_team_pages(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web, "eve")
    page.goto(web.url("/app/integrations"))
    expect(page.get_by_role("button", name="Connect")).to_have_count(0)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    refused = page.request.post(
        web.url("/app/integrations"), form={"csrf_token": csrf, "kind": "github", "name": "gh", "token": "t" * 20}
    )
    assert refused.status == 403 and "needs the admin role" in refused.text()
    refused = page.request.post(web.url("/app/team/roles"), form={"csrf_token": csrf, "user_id": "1", "role": "member"})
    assert refused.status == 403

    sign_in(page, web, "ada")
    page.goto(web.url("/app/integrations"))
    page.get_by_label("Name (letters, digits, - and _)").fill("bad name!")
    page.get_by_label("Token", exact=True).fill("ghp_sekritvalue1234567890")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not valid")
    assert "ghp_sekritvalue" not in page.content(), "a secret is never shown back"
    names = [row["name"] for row in run_sql(web.deployment, "SELECT name FROM integrations")]
    assert names == ["jira"], "only the seeded connection: the refused one stored nothing"
    page.goto(web.url("/app/integrations"))
    shots.take(page, "integrations")

    page.goto(web.url("/app/usage"))
    expect(page.locator("table").first).to_contain_text("scripted")
    expect(page.locator(".chart canvas").first).to_be_visible()
    shots.take(page, "usage")

    page.goto(web.url("/app/reviews?repo=acme/empty"))
    expect(page.locator("main")).to_contain_text("No feedback on this repository")
    teams = {r["name"]: r["id"] for r in run_sql(web.deployment, "SELECT id, name FROM teams")}
    signal = (
        "INSERT INTO review_feedback_signals (team_id, repository, category, source, source_comment, kind, actor, "
        "useful) VALUES ($1, 'acme/shop', $2, 'github', $3, $4, 'octo', $5)"
    )
    run_sql(web.deployment, signal, teams["core"], "security", "c1", "thumbs_up", True)
    run_sql(web.deployment, signal, teams["core"], "security", "c2", "thumbs_up", True)
    run_sql(web.deployment, signal, teams["core"], "style", "c3", "thumbs_down", False)
    run_sql(web.deployment, signal, teams["rival"], "rival-only", "c4", "thumbs_down", False)
    page.goto(web.url("/app/reviews?repo=acme/shop"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviews of acme/shop")
    precision = page.locator("table.precision tr", has_text="security")
    expect(precision.locator("td").nth(3)).to_have_text("0.75")
    expect(page.locator("main")).not_to_contain_text("rival-only")
    expect(page.locator(".chart canvas")).to_have_count(2)  # per category now, and per day
    expect(page.locator(".u-legend", has_text="security")).to_have_count(1)  # a line of the history
    shots.take(page, "reviews")
    page.goto(web.url("/app/reviews/audit"))
    shots.take(page, "audit")

    page.goto(web.url("/app/team"))
    eve = page.locator("tr", has_text="eve@example.com")
    expect(eve.locator("td").nth(1)).to_have_text("member")
    eve.get_by_label("Role of eve@example.com").select_option("maintainer")
    eve.get_by_role("button", name="Save").click()
    expect(page.locator("tr", has_text="eve@example.com").locator("td").nth(1)).to_have_text("maintainer")
    ada = page.locator("tr", has_text="ada@example.com")
    ada.get_by_label("Role of ada@example.com").select_option("member")
    ada.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("at least one admin")
    assert (
        run_sql(
            web.deployment,
            "SELECT role FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ada@example.com'",
        )[0]["role"]
        == "admin"
    )
    page.goto(web.url("/app/team"))
    expect(page.locator("main")).to_contain_text("shop")
    shots.take(page, "team")

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(web.url("/app/chat"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the chat page scrolls sideways at 360 px ({width} px wide)"
    shots.take(page, "chat-360px")
    page.close()


def test_a_draft_docs_ticket_is_rejected_and_another_teams_ticket_is_404(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web)
    page.goto(web.url("/app/feedback"))
    shots.take(page, "feedback")
    page.get_by_role("link", name="Document token rotation").click()
    expect(page.locator("main")).to_contain_text("could not find how to rotate a token")
    shots.take(page, "feedback-ticket")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("h1 .badge")).to_have_text("rejected")
    assert (
        run_sql(web.deployment, "SELECT status FROM doc_tickets WHERE id = $1", web.ticket_id)[0]["status"]
        == "rejected"
    )
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    theirs = page.goto(web.url(f"/app/feedback/tickets/{web.rival_ticket_id}"))
    assert theirs is not None and theirs.status == 404
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    refused = page.request.post(
        web.url(f"/app/feedback/tickets/{web.rival_ticket_id}/reject"), form={"csrf_token": csrf}
    )
    assert refused.status == 404
    assert (
        run_sql(web.deployment, "SELECT status FROM doc_tickets WHERE id = $1", web.rival_ticket_id)[0]["status"]
        == "draft"
    )
    page.close()


def test_approving_a_draft_docs_ticket_opens_the_jira_issue_with_its_evidence(web: Seeded, browser, shots: Shots):
    page = browser.new_page()
    sign_in(page, web)
    page.goto(web.url(f"/app/feedback/tickets/{web.approvable_ticket_id}"))
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("h1 .badge")).to_have_text("open")
    shots.take(page, "feedback-ticket-approved")
    row = run_sql(
        web.deployment, "SELECT status, tracker, external_id FROM doc_tickets WHERE id = $1", web.approvable_ticket_id
    )[0]
    assert (row["status"], row["tracker"]) == ("open", "jira")
    issue = web.jira.issues[row["external_id"]]
    assert issue.summary == "Document the webhook retries"
    expect(page.locator("main")).to_contain_text(row["external_id"])
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page.close()
