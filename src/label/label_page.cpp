#include "label/label_page.h"

namespace sv::label {

// The page keeps no state the server does not have, except this tab's undo
// history: a reload forgets which judgements it may undo, never a judgement.
// body[data-state] and the data-* attributes of #pair are what a test reads.
const char* label_page_html() {
  return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>stepvideo label</title>
<style>
  body { font-family: sans-serif; margin: 1.5em; background: #f4f4f4; color: #222; }
  header { display: flex; gap: 2em; align-items: baseline; }
  #progress { font-weight: bold; }
  #message { color: #a40; }
  #prompt { font-size: 1.2em; margin: 1em 0; min-height: 1.4em; }
  #pair { display: flex; gap: 1.5em; }
  figure { margin: 0; flex: 1; text-align: center; }
  video { width: 100%; max-height: 60vh; background: #000; image-rendering: pixelated; }
  figcaption { margin-top: .4em; }
  kbd { border: 1px solid #999; border-radius: 3px; padding: 0 .3em; background: #fff; }
  #done { display: none; font-size: 1.3em; }
  body[data-state="done"] #done { display: block; }
  body[data-state="done"] #pair, body[data-state="done"] #prompt { display: none; }
</style>
</head>
<body data-state="loading">
<header>
  <span id="progress">loading</span>
  <span id="message"></span>
</header>
<p id="prompt"></p>
<div id="pair">
  <figure><video id="left" autoplay loop muted playsinline></video>
    <figcaption><kbd>Left</kbd> or <kbd>A</kbd>: left is better</figcaption></figure>
  <figure><video id="right" autoplay loop muted playsinline></video>
    <figcaption><kbd>Right</kbd> or <kbd>D</kbd>: right is better</figcaption></figure>
</div>
<p id="done">Every pair is judged. Undo (<kbd>U</kbd>) still works; the judgements are in the pairs file.</p>
<p><kbd>T</kbd> or <kbd>Down</kbd>: tie &middot; <kbd>S</kbd>: skip &middot;
   <kbd>U</kbd> or <kbd>Backspace</kbd>: undo this tab's last judgement</p>
<script>
"use strict";
const tab = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2);
const undoable = [];
let current = null, busy = false;

function say(text) { document.getElementById("message").textContent = text; }

function showProgress(p) {
  document.getElementById("progress").textContent =
    `${p.judged} / ${p.total} judged` + (p.skipped ? ` (${p.skipped} skipped)` : "");
}

function show(reply) {
  showProgress(reply.progress);
  const pair = document.getElementById("pair");
  if (!reply.pair) {
    current = null;
    document.body.dataset.state = "done";
    for (const side of ["left", "right"]) document.getElementById(side).removeAttribute("src");
    return;
  }
  current = reply.pair;
  pair.dataset.pair = current.id;
  pair.dataset.left = current.left.id;
  pair.dataset.right = current.right.id;
  document.getElementById("prompt").textContent = current.prompt;
  for (const side of ["left", "right"]) {
    const video = document.getElementById(side);
    video.src = current[side].url;
    video.play().catch(() => {});
  }
  document.body.dataset.state = "ready";
}

async function call(method, url, body) {
  const init = { method, headers: { "Content-Type": "application/json" } };
  if (body) init.body = JSON.stringify(body);
  const response = await fetch(url, init);
  const reply = await response.json().catch(() => ({ error: response.statusText }));
  return { ok: response.ok, reply };
}

async function load() {
  const { ok, reply } = await call("GET", "/api/next?tab=" + encodeURIComponent(tab));
  if (!ok) { say(reply.error || "the server refused"); return; }
  show(reply);
}

async function act(work) {
  if (busy) return;
  busy = true;
  document.body.dataset.state = "busy";
  try { await work(); await load(); }
  catch (e) { say("cannot reach the labelling server: " + e); document.body.dataset.state = "error"; }
  finally { busy = false; }
}

function decide(choice) {
  if (!current) return;
  const id = current.id;
  act(async () => {
    const { ok, reply } = await call("POST", "/api/judge", { tab, pair: id, choice });
    if (ok) { undoable.push(id); say(""); } else { say(reply.error); }
  });
}

function undo() {
  const id = undoable.pop();
  if (!id) { say("nothing to undo in this tab"); return; }
  act(async () => {
    const { ok, reply } = await call("POST", "/api/undo", { tab, pair: id });
    say(ok ? `undone: ${id}` : reply.error);
  });
}

const keys = { ArrowLeft: "left", a: "left", ArrowRight: "right", d: "right",
               ArrowDown: "tie", t: "tie", s: "skip" };
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (key === "u" || key === "Backspace") { e.preventDefault(); undo(); return; }
  if (keys[key]) { e.preventDefault(); decide(keys[key]); }
});
load();
</script>
</body>
</html>
)html";
}

}  // namespace sv::label
