"""Whole respondent journeys over HTTP, as a browser makes them, for the submissions
benchmark and the concurrency test (tests/surveys/test_concurrency.py).

A journey is one person with one invitation link: the start page, then each page of
questions (GET, then POST of valid answers read off the page's own form, CSRF token
included, following the redirect to the next page), check your answers, the send, and
the confirmation. Every request has a timeout, so a stalled server fails the journey
instead of hanging its caller. Standard library only.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

TEXT_ANSWER = "Meet in person more often, with the agenda shared beforehand."


class JourneyFailed(Exception):
    """A request of the journey timed out or was answered with something unexpected."""


class Abandoned(Exception):
    """The run ended before the journey did; nothing was sent."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Reply:
    status: int
    location: str  # the redirect's path, or ""
    text: str
    seconds: float


class Browser:
    """One keep-alive connection with its own cookies; every request waits at most
    `timeout` seconds for each read."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> Reply:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection before reading this
                # request: send it again on a new one, as a browser does.
                self.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
            text = response.read().decode()
        except TimeoutError as error:
            self.close()
            raise JourneyFailed(f"{method} {path}: no answer within {self.timeout:g} s") from error
        except OSError as error:
            self.close()
            raise JourneyFailed(f"{method} {path}: {error!r}") from error
        seconds = time.perf_counter() - started
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        location = urlsplit(response.getheader("Location") or "").path
        return Reply(response.status, location, text, seconds)

    def close(self) -> None:
        self.connection.close()


class PostForm(HTMLParser):
    """The fields of a page's first POST form: hidden values, radio and checkbox groups
    (name → values offered), text boxes and text areas."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.checkboxes: dict[str, list[str]] = {}
        self.numbers: list[str] = []
        self.texts: list[str] = []
        self.found = False
        self._inside = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("method", "").lower() == "post" and not self.found:
            self.found = self._inside = True
        if not self._inside or "name" not in attributes:
            return
        name = attributes["name"]
        kind = attributes.get("type", "text")
        if tag == "textarea":
            self.texts.append(name)
        elif tag != "input":
            return
        elif kind == "hidden":
            self.hidden[name] = attributes.get("value", "")
        elif kind == "radio":
            self.radios.setdefault(name, []).append(attributes["value"])
        elif kind == "checkbox":
            self.checkboxes.setdefault(name, []).append(attributes["value"])
        elif attributes.get("inputmode") in ("decimal", "numeric"):
            self.numbers.append(name)
        else:
            self.texts.append(name)

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


def answers_for(page: str, rng: random.Random) -> dict[str, str]:
    """Valid answers to every question on a page of questions: one of the answers each
    question offers ("Don't know" among them where the wave offers it), a sentence in
    every text box, the smallest number every number question takes, and the page's
    hidden fields (its CSRF token)."""
    form = PostForm(page)
    if not form.found:
        raise JourneyFailed("the page has no form to send")
    fields = dict(form.hidden)
    fields |= {name: rng.choice(values) for name, values in form.radios.items()}
    fields |= {name: rng.choice(values) for name, values in form.checkboxes.items()}
    fields |= {name: TEXT_ANSWER for name in form.texts}
    fields |= {name: "0" for name in form.numbers}
    fields["action"] = "continue"
    return fields


@dataclass
class Latencies:
    """Seconds each request took, by what it was."""

    gets: list[float] = field(default_factory=list)
    page_posts: list[float] = field(default_factory=list)
    sends: list[float] = field(default_factory=list)

    def add(self, other: Latencies) -> None:
        self.gets += other.gets
        self.page_posts += other.page_posts
        self.sends += other.sends


def _expect(reply: Reply, what: str, status: int, location_end: str | None = None) -> Reply:
    if reply.status != status or (location_end is not None and not reply.location.endswith(location_end)):
        raise JourneyFailed(f"{what}: expected {status}{' to …' + location_end if location_end else ''}, "
                            f"got {reply.status} {reply.location}")
    return reply


def walk(port: int, token: str, timeout: float, rng: random.Random, deadline: float | None = None,
         think: float = 0.0) -> Latencies:
    """One respondent's whole journey with this invitation token, from the start page to
    the confirmation after sending. Raises JourneyFailed, or Abandoned when `deadline`
    (a time.perf_counter() value) passes before the answers are sent. With `think`, the
    respondent pauses before each request, as a person reads and answers (exponentially
    distributed, `think` seconds on average); without, they click at once."""
    browser = Browser(port, timeout)
    latencies = Latencies()
    prefix = f"/s/{token}"

    def unless_too_late() -> None:
        if think:
            time.sleep(rng.expovariate(1 / think))
        if deadline is not None and time.perf_counter() > deadline:
            raise Abandoned()

    def get(path: str, what: str) -> Reply:
        reply = _expect(browser.request("GET", path), what, 200)
        latencies.gets.append(reply.seconds)
        return reply

    def post(path: str, fields: dict[str, str], times: list[float], what: str, then: str) -> Reply:
        reply = browser.request("POST", path, fields)
        if reply.status == 200 and "govuk-error-summary" in reply.text:
            raise JourneyFailed(f"{what}: the answers were refused")
        _expect(reply, what, 302, then)
        times.append(reply.seconds)
        return reply

    try:
        unless_too_late()
        get(prefix, "the start page")
        path = f"{prefix}/0"
        while not path.endswith("/check"):
            unless_too_late()
            page = get(path, f"page {path}")
            unless_too_late()
            path = post(path, answers_for(page.text, rng), latencies.page_posts, f"answers to {path}", "").location
            if not path.startswith(prefix):
                raise JourneyFailed(f"answers to a page redirected out of the journey, to {path}")
        unless_too_late()
        check = get(path, "check your answers")
        unless_too_late()
        post(path, PostForm(check.text).hidden, latencies.sends, "the send", "/done")
        # Sent: the journey ends at the confirmation, whatever the time.
        done = get(f"{prefix}/done", "the confirmation")
        if "Answers sent" not in done.text:
            raise JourneyFailed("the confirmation page does not say the answers were sent")
    finally:
        browser.close()
    return latencies


@dataclass
class Walked:
    """What a crowd of respondents did: journeys that reached the confirmation (their
    tokens), journeys that failed (why) and every request's latency."""

    sent: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    latencies: Latencies = field(default_factory=Latencies)
    seconds: float = 0.0


def walk_together(port: int, tokens: list[str], respondents: int, timeout: float,
                  seconds: float | None = None, seed: int = 28, think: float = 0.0) -> Walked:
    """`respondents` threads, each walking one journey after another with the next unused
    token, until the tokens run out or, given `seconds`, the time is up (a journey not yet
    sent then is abandoned after its request in flight). Returns when every thread has
    stopped: a request that hangs ends at its timeout. `think`: as for `walk`."""
    queue = list(reversed(tokens))
    lock = threading.Lock()
    walked = Walked()
    started = time.perf_counter()
    deadline = started + seconds if seconds is not None else None

    def respondent(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        while True:
            with lock:
                if not queue:
                    return
                token = queue.pop()
            try:
                latencies = walk(port, token, timeout, rng, deadline, think)
            except Abandoned:
                return
            except JourneyFailed as failure:
                with lock:
                    walked.failures.append(str(failure))
                continue
            with lock:
                walked.sent.append(token)
                walked.latencies.add(latencies)

    threads = [threading.Thread(target=respondent, args=(n,), daemon=True) for n in range(respondents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    walked.seconds = time.perf_counter() - started
    return walked


def wait_until_serving(port: int, path: str, seconds: float = 120) -> None:
    """Until a GET of `path` is answered 200: a port accepts connections before the app
    behind it has loaded."""
    deadline = time.perf_counter() + seconds
    while True:
        try:
            browser = Browser(port, timeout=5)
            try:
                if browser.request("GET", path).status == 200:
                    return
            finally:
                browser.close()
        except JourneyFailed:
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError(f"nothing served GET {path} on port {port} within {seconds:g} s")
        time.sleep(0.1)
