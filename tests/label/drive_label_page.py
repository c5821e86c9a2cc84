#!/usr/bin/env python3
"""Drives the labelling page in a real headless Chromium through chromedriver
(the W3C WebDriver protocol over HTTP, standard library only).

drive_label_page.py URL PAIRS_FILE WORK_DIR

1. The page loads; both videos play (decoded frames, time advancing).
2. Three pairs are judged by keyboard (Left arrow, Right arrow, T): after each,
   the page shows another pair and the progress counts it; the pairs file then
   holds exactly those three judgements, each naming the videos that were on
   screen. A screenshot is kept in WORK_DIR/label.png.
3. A second tab gets a pair the first is not showing; judging there and
   undoing (U) there append exactly a judgement and its undo.
Prints one line per check; exits 1 with a reason on the first failure.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

KEYS = {"ArrowLeft": "\ue012", "ArrowRight": "\ue014", "ArrowDown": "\ue015"}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, work):
        port = free_port()
        self.log = open(os.path.join(work, "chromedriver.log"), "w")
        self.proc = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=self.log, stderr=self.log)
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if self.call("GET", "/status").get("ready"):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            fail("chromedriver did not start within 10 s")
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", "--window-size=900,560",
                f"--user-data-dir={os.path.join(work, 'chromium-profile')}"]
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            fail(f"WebDriver {method} {path}: {e.code} {e.read().decode(errors='replace')[:400]}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def js(self, script):
        return self.s("POST", "/execute/sync", {"script": script, "args": []})

    def key(self, name):
        value = KEYS.get(name, name)
        self.s("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}]}]})

    def wait(self, script, what, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.1)
        fail(f"{what} (waited {seconds} s); page: {self.js('return document.body.innerText')!r}")

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)


SHOWN = """const p = document.getElementById('pair');
return document.body.dataset.state === 'ready' ? {pair: p.dataset.pair, left: p.dataset.left,
  right: p.dataset.right, progress: document.getElementById('progress').textContent} : null;"""

PLAYING = """const v = ['left', 'right'].map(id => document.getElementById(id));
window.__t0 = window.__t0 || v.map(x => x.currentTime);
return v.every(x => x.readyState >= 2 && !x.paused && !x.error && x.videoWidth === 64 && x.videoHeight === 64
  && x.currentTime > 0) ? v.map(x => x.currentTime) : null;"""


def read_pairs(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    url, pairs_file, work = sys.argv[1:4]
    d = WebDriver(work)
    try:
        d.s("POST", "/url", {"url": url})
        first = d.wait(SHOWN, "the page never showed a pair")
        print(f"--- page loaded: pair {first['pair']} ({first['left']} | {first['right']}), {first['progress']}")
        t1 = d.wait(PLAYING, "both videos did not play (readyState, paused, size 64x64, currentTime)")
        time.sleep(0.5)
        t2 = d.wait(PLAYING, "the videos stopped")
        if not any(b != a for a, b in zip(t1, t2)):
            fail(f"the videos' time did not advance: {t1} then {t2}")
        print(f"--- both videos play (currentTime {t1} then {t2})")
        png = base64.b64decode(d.s("GET", "/screenshot"))
        with open(os.path.join(work, "label.png"), "wb") as f:
            f.write(png)
        print(f"--- screenshot: {os.path.join(work, 'label.png')} ({len(png)} bytes)")

        expected = []
        shown = first
        for key, verdict in (("ArrowLeft", "left"), ("ArrowRight", "right"), ("t", "tie")):
            d.key(key)
            before = shown["pair"]
            shown_next = d.wait(SHOWN.replace("? {pair", f"&& p.dataset.pair !== {json.dumps(before)} ? {{pair"),
                                f"the page did not move on after {key}")
            expected.append((shown, verdict))
            shown = shown_next
        if not shown["progress"].startswith("3 / "):
            fail(f"progress after three judgements reads {shown['progress']!r}")
        print(f"--- three pairs judged by keyboard; progress: {shown['progress']}")

        lines = read_pairs(pairs_file)
        if len(lines) != 3:
            fail(f"{pairs_file} holds {len(lines)} lines after three judgements: {lines}")
        for line, (pair, verdict) in zip(lines, expected):
            left, right = (os.path.basename(v) for v in line["videos"])
            if line["id"] != pair["pair"] or (left, right) != (pair["left"] + ".mp4", pair["right"] + ".mp4"):
                fail(f"judgement {line} is not of the pair shown {pair}")
            if verdict == "tie":
                ok = line["label"] == "tie" and "chosen" not in line
            else:
                winner, loser = (left, right) if verdict == "left" else (right, left)
                ok = (line["label"] == "preferred" and os.path.basename(line["chosen"]) == winner
                      and os.path.basename(line["rejected"]) == loser)
            if not ok:
                fail(f"pressing for {verdict} on {pair} recorded {line}")
        print("--- the pairs file holds exactly those three judgements")

        first_tab = d.s("GET", "/window")
        other = d.s("POST", "/window/new", {"type": "tab"})["handle"]
        d.s("POST", "/window", {"handle": other})
        d.s("POST", "/url", {"url": url})
        second = d.wait(SHOWN, "the second tab never showed a pair")
        if second["pair"] == shown["pair"]:
            fail(f"both tabs show pair {second['pair']}")
        d.key("ArrowLeft")
        d.wait(SHOWN.replace("? {pair", f"&& p.dataset.pair !== {json.dumps(second['pair'])} ? {{pair"),
               "the second tab did not move on")
        d.key("u")
        back = d.wait(SHOWN.replace("? {pair", f"&& p.dataset.pair === {json.dumps(second['pair'])} ? {{pair"),
                      "undo in the second tab did not bring its pair back")
        lines = read_pairs(pairs_file)
        if [(x["id"], x["label"]) for x in lines[3:]] != [(second["pair"], "preferred"), (second["pair"], "undo")]:
            fail(f"after a judgement and an undo in the second tab the file ends with {lines[3:]}")
        if not back["progress"].startswith("3 / "):
            fail(f"progress after the undo reads {back['progress']!r}")
        d.s("POST", "/window", {"handle": first_tab})
        still = d.wait(SHOWN, "the first tab lost its pair")
        if still["pair"] != shown["pair"]:
            fail(f"the first tab now shows {still['pair']}, not {shown['pair']}")
        print(f"--- a second tab got {second['pair']} (the first shows {shown['pair']}); its judgement and undo are in the file")
    finally:
        d.close()
    print("PASS: page loads, videos play, keyboard judgements recorded exactly, two tabs kept apart")


if __name__ == "__main__":
    main()
