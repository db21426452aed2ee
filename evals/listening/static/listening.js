"use strict";
// What both listening pages share: joining or resuming as a listener, the welcome and training pages,
// the transport bar (stop, seek, loop), errors and the end page. mushra.js and ab.js register the
// rated screen of their test kind with Listening.start({ renderScreen }).
//
// window.listening records what the page did, for people and for the headless browser tests.

const $ = (id) => document.getElementById(id);
const L = window.listening = {
  phase: "loading", listener: null, test: null, progress: null, screen: null, submitted: 0,
  errors: [], busy: false,
};
const player = window.player = new Player(() => Listening.refreshTransport());

const Listening = {
  kind: null,

  async api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      const err = new Error((data && data.error && data.error.message) || `HTTP ${r.status}`);
      err.status = r.status;
      throw err;
    }
    return data;
  },

  showError(message) {
    L.errors.push(message);
    $("error").textContent = message;
    $("error").hidden = false;
  },

  clearError() { $("error").hidden = true; },

  show(phase) {
    L.phase = phase;
    for (const id of ["welcome", "training", "screen", "done"]) $(id).hidden = id !== phase;
    $("transport").hidden = !(phase === "training" || phase === "screen");
  },

  storageKey() { return "flowtts-listener-" + L.test.build_id; },

  async start(kind) {
    this.kind = kind;
    try {
      L.test = await this.api("GET", "/api/test");
      document.title = L.test.title;
      $("title").textContent = L.test.title;
      $("instructions").textContent = L.test.instructions;
    } catch (e) {
      this.showError("cannot reach the test server: " + e.message);
      return;
    }
    const id = new URLSearchParams(location.search).get("listener") || localStorage.getItem(this.storageKey());
    if (id) {
      try { await this.join(id); } catch (e) { this.showError(`cannot resume as ${id}: ${e.message}`); }
    }
    this.bindTransport();
    this.welcome();
  },

  async join(id) {
    L.progress = await this.api("POST", "/api/listeners", { listener: id });
    L.listener = L.progress.listener;
    localStorage.setItem(this.storageKey(), L.listener);
    const url = new URL(location.href);
    url.searchParams.set("listener", L.listener);
    history.replaceState(null, "", url);
    $("listener").textContent = L.listener;
    $("resume").hidden = false;
  },

  welcome() {
    const p = L.progress;
    const started = p && (p.answered > 0 || p.training_done);
    $("start").textContent = !p || !started ? "Start" : p.finished ? "Show the end page" : `Continue (${p.answered} of ${p.total} done)`;
    $("start").onclick = async () => {
      this.clearError();
      try {
        if (!L.listener) await this.join(null);
        await this.next();
      } catch (e) { this.showError(e.message); }
    };
    this.show("welcome");
  },

  // The first unanswered page of this listener: training, a screen or the end.
  async next() {
    const p = L.progress;
    if (p.training_needed && !p.training_done) return this.training();
    if (p.finished) return this.done();
    L.busy = true;
    try {
      const screen = await this.api("GET", `/api/listeners/${L.listener}/screens/${p.next_screen}`);
      await player.load([...(screen.reference ? [screen.reference] : []), ...screen.stimuli]);
      L.screen = screen;
      $("progress").textContent = `${screen.index + 1} / ${screen.total}`;
      this.kind.renderScreen(screen);
      this.show("screen");
    } finally { L.busy = false; }
  },

  async training() {
    const t = await this.api("GET", `/api/listeners/${L.listener}/training`);
    const entries = [];
    for (const it of t.items) entries.push(...(it.reference ? [it.reference] : []), ...it.stimuli);
    await player.load(entries);
    const box = $("training-items");
    box.innerHTML = "";
    t.items.forEach((it, k) => {
      const card = document.createElement("div");
      card.className = "card";
      const h = document.createElement("p");
      h.className = "text";
      h.textContent = it.text || `Example ${k + 1}`;
      card.appendChild(h);
      const row = document.createElement("div");
      row.className = "buttons";
      const add = (stim, label, cls) => {
        const b = this.playButton(stim.id, label, () => {
          if (L.trainingItem !== k) { player.stop(); L.trainingItem = k; }
        });
        if (cls) b.classList.add(cls);
        row.appendChild(b);
      };
      if (it.reference) add(it.reference, "Reference", "reference");
      it.stimuli.forEach((s, i) => add(s, `Sample ${i + 1}`));
      card.appendChild(row);
      box.appendChild(card);
    });
    $("training-done").onclick = async () => {
      this.clearError();
      try {
        player.stop();
        L.progress = await this.api("POST", `/api/listeners/${L.listener}/training`);
        await this.next();
      } catch (e) { this.showError(e.message); }
    };
    $("progress").textContent = "training";
    this.show("training");
  },

  done() {
    player.stop();
    $("code").textContent = L.listener;
    $("progress").textContent = "";
    this.show("done");
  },

  // Sends the answer of the shown screen, then moves on. If it is not saved the screen stays as it is.
  async submit(body) {
    this.clearError();
    const index = L.screen.index;
    try {
      L.progress = await this.api("POST", `/api/listeners/${L.listener}/screens/${index}`, body);
    } catch (e) {
      this.showError("not saved: " + e.message);
      if (e.status === 409) {  // answered elsewhere (another tab): continue where the server says
        try { L.progress = await this.api("GET", `/api/listeners/${L.listener}`); await this.next(); } catch (e2) { /* keep the screen */ }
      }
      return false;
    }
    L.submitted += 1;
    player.stop();
    try {
      await this.next();
    } catch (e) {
      this.showError(`saved, but the next page did not load (${e.message}); reload this page to continue`);
    }
    return true;
  },

  // A button that plays (or pauses) stimulus id; before() runs first.
  playButton(id, label, before) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "play";
    b.dataset.stimulus = id;
    b.textContent = label;
    b.onclick = async () => {
      if (before) before();
      try { await player.toggle(id); } catch (e) { this.showError(e.message); }
    };
    return b;
  },

  bindTransport() {
    $("stop").onclick = () => player.stop();
    $("loop").onchange = () => player.setLoop($("loop").checked);
    $("loop-start").onclick = () => player.markLoopStart();
    $("loop-end").onclick = () => player.markLoopEnd();
    $("loop-clear").onclick = () => player.clearLoopMarks();
    $("seek").oninput = () => { L.seeking = true; };
    $("seek").onchange = () => { L.seeking = false; player.seek(parseFloat($("seek").value)); };
    const tick = () => {
      if (player.playing && !L.seeking) this.refreshTransport();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  },

  refreshTransport() {
    const st = player.state();
    const longest = player.longest;
    $("seek").max = longest.toFixed(3);
    if (!L.seeking) $("seek").value = st.position.toFixed(3);
    $("time").textContent = `${st.position.toFixed(1)} / ${longest.toFixed(1)} s`;
    const marks = st.loopEnd === null && st.loopStart === 0 ? "whole sample" : `${st.loopStart.toFixed(1)}–${st.loopEnd === null ? "end" : st.loopEnd.toFixed(1) + " s"}`;
    $("loop-region").textContent = marks;
    for (const b of document.querySelectorAll("button.play")) {
      b.classList.toggle("active", st.playing && b.dataset.stimulus === st.current);
      b.classList.toggle("played", player.played.has(b.dataset.stimulus));
    }
    if (this.kind && this.kind.refresh && L.phase === "screen") this.kind.refresh();
  },
};

window.Listening = Listening;
